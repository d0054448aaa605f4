// Package gitops tests what rollgate ships for GitOps tools: the Argo CD
// health check of GitLabDeployments (docs/argocd).
package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

// health runs the health check on obj as Argo CD does: obj is a global Lua
// table, and the script returns a table of status and message.
func health(t *testing.T, script string, obj map[string]any) (status, message string) {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("the health check fails: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health check returned %v, not a table", l.Get(-1))
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

// toLua converts a decoded JSON value into Lua values, arrays into
// sequences, as Argo CD does.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic("unexpected JSON value")
}

// gld returns a GitLabDeployment of generation 1 with status.
func gld(t *testing.T, status string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	doc := "apiVersion: gitlab.rollgate.dev/v1alpha1\nkind: GitLabDeployment\n" +
		"metadata: {name: web-7d4b9c8f5, namespace: shop, generation: 1}\n" + status
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// The health check reads a GitLabDeployment's conditions as rollgate sets
// them: Healthy once Ready, Progressing while rolling out or held for
// approval, Degraded when stalled, failed or not approved.
func TestArgoCDHealth(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "docs", "argocd", "gitlabdeployment-health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, status, want, message string
	}{{
		name: "not reported yet", want: "Progressing", message: "Waiting for rollgate",
	}, {
		name: "spec not observed yet", want: "Progressing", message: "latest spec",
		status: `status:
  observedGeneration: 0
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, message: "GitLab deployment #3 in production is success"}`,
	}, {
		name: "rolling out", want: "Progressing", message: "Progressing: The rollout is in progress",
		status: `status:
  observedGeneration: 1
  phase: Progressing
  conditions:
  - {type: RecordSynced, status: "True", reason: RecordSynced, message: "GitLab deployment #3 in production is running"}
  - {type: Reconciling, status: "True", reason: Progressing, message: The rollout is in progress}
  - {type: Ready, status: "False", reason: Progressing, message: "The rollout is in progress; GitLab deployment #3 in production is running"}`,
	}, {
		name: "held for approval", want: "Progressing", message: "Held for approval in GitLab: AwaitingApproval: 1 approval pending",
		status: `status:
  observedGeneration: 1
  phase: AwaitingApproval
  conditions:
  - {type: RecordSynced, status: "True", reason: RecordSynced, message: "GitLab deployment #3 in production is running"}
  - {type: Reconciling, status: "True", reason: AwaitingApproval, message: The rollout is in progress}
  - {type: Ready, status: "False", reason: AwaitingApproval, message: "The rollout is in progress; GitLab deployment #3 in production is running"}
  - {type: Approved, status: "False", reason: AwaitingApproval, message: 1 approval pending}`,
	}, {
		name: "waiting for the pipeline", want: "Progressing", message: "WaitingForPipeline",
		status: `status:
  observedGeneration: 1
  phase: AwaitingApproval
  conditions:
  - {type: Reconciling, status: "True", reason: AwaitingApproval, message: The rollout is in progress}
  - {type: Ready, status: "False", reason: AwaitingApproval, message: The rollout is in progress}
  - {type: Approved, status: "False", reason: WaitingForPipeline, message: No CI job deployment of this commit yet}`,
	}, {
		name: "GitLab unavailable", want: "Progressing", message: "GitLabUnavailable: 502",
		status: `status:
  observedGeneration: 1
  phase: Progressing
  conditions:
  - {type: RecordSynced, status: "False", reason: GitLabUnavailable, message: "502"}
  - {type: Reconciling, status: "True", reason: GitLabUnavailable, message: "502"}
  - {type: Ready, status: "False", reason: GitLabUnavailable, message: "502"}`,
	}, {
		name: "succeeded", want: "Healthy", message: "GitLab deployment #3 in production is success",
		status: `status:
  observedGeneration: 1
  phase: Succeeded
  conditions:
  - {type: RecordSynced, status: "True", reason: RecordSynced, message: "GitLab deployment #3 in production is success"}
  - {type: Ready, status: "True", reason: Succeeded, message: "GitLab deployment #3 in production is success"}
  - {type: Approved, status: "True", reason: Approved, message: Approved by alice}`,
	}, {
		name: "superseded", want: "Healthy", message: "canceled",
		status: `status:
  observedGeneration: 1
  phase: Canceled
  conditions:
  - {type: Ready, status: "True", reason: Canceled, message: "GitLab deployment #3 in production is canceled"}`,
	}, {
		name: "stalled", want: "Degraded", message: "CredentialsNotFound: Secret shop/gitlab not found",
		status: `status:
  observedGeneration: 1
  phase: Progressing
  conditions:
  - {type: Stalled, status: "True", reason: CredentialsNotFound, message: Secret shop/gitlab not found}
  - {type: RecordSynced, status: "False", reason: CredentialsNotFound, message: Secret shop/gitlab not found}
  - {type: Ready, status: "False", reason: CredentialsNotFound, message: Secret shop/gitlab not found}`,
	}, {
		name: "failed", want: "Degraded", message: "The rollout failed; GitLab deployment #3 in production is failed",
		status: `status:
  observedGeneration: 1
  phase: Failed
  conditions:
  - {type: RecordSynced, status: "True", reason: RecordSynced, message: "GitLab deployment #3 in production is failed"}
  - {type: Ready, status: "True", reason: Failed, message: "GitLab deployment #3 in production is failed"}`,
	}, {
		name: "rejected", want: "Degraded", message: "Not approved: Rejected: Rejected by bob",
		status: `status:
  observedGeneration: 1
  phase: Canceled
  conditions:
  - {type: Ready, status: "True", reason: Canceled, message: "GitLab deployment #3 in production is canceled"}
  - {type: Approved, status: "False", reason: Rejected, message: Rejected by bob}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			status, message := health(t, string(script), gld(t, tc.status))
			g.Expect(status).To(Equal(tc.want))
			g.Expect(message).To(ContainSubstring(tc.message))
		})
	}
}

// The README's argocd-cm example holds the health check as shipped in docs/.
func TestReadmeHealthCheck(t *testing.T) {
	g := NewWithT(t)
	root, err := harness.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	script, err := os.ReadFile(filepath.Join(root, "docs", "argocd", "gitlabdeployment-health.lua"))
	g.Expect(err).NotTo(HaveOccurred())
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	g.Expect(err).NotTo(HaveOccurred())
	var code strings.Builder
	for line := range strings.Lines(string(script)) {
		if strings.HasPrefix(line, "--") {
			continue
		}
		if strings.TrimSpace(line) != "" {
			line = "    " + line
		}
		code.WriteString(line)
	}
	g.Expect(string(readme)).To(ContainSubstring(
		"  resource.customizations.health.gitlab.rollgate.dev_GitLabDeployment: |\n" + code.String() + "```"))
}
