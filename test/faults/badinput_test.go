package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// badInput is one annotation value a user might type.
type badInput struct {
	what  string
	key   string
	value string
	// gated adds the approval annotation "true" (when key is not it).
	gated bool
}

// badInputs is every kind of bad value, per annotation: lengths over the
// GitLabDeployment's field limits (api/v1alpha1 maxLength) and GitLab's,
// character sets, path tricks, unicode, empty and blank values, and
// duplicate or malformed approval settings.
func badInputs() []badInput {
	const (
		env   = gitlabv1alpha1.AnnotationEnvironment
		proj  = gitlabv1alpha1.AnnotationProject
		sha   = gitlabv1alpha1.AnnotationSHA
		ref   = gitlabv1alpha1.AnnotationRef
		tag   = gitlabv1alpha1.AnnotationTag
		creds = gitlabv1alpha1.AnnotationCredentials
		appr  = gitlabv1alpha1.AnnotationApproval
	)
	long := func(n int) string { return strings.Repeat("a", n) }
	return []badInput{
		{"environment empty", env, "", false},
		{"environment blank", env, "   ", false},
		{"environment 256 chars (GitLab's limit 255)", env, long(256), false},
		{"environment 1025 chars (field limit 1024)", env, long(1025), false},
		{"environment starting with /", env, "/production", false},
		{"environment unicode", env, "prödüction", false},
		{"environment with a newline", env, "prod\nuction", false},
		{"environment with a semicolon", env, "prod;rm -rf", false},
		{"project empty", proj, "", false},
		{"project blank", proj, " \t ", false},
		{"project ../x", proj, "../x", false},
		{"project group/../x", proj, "group/../x", false},
		{"project group//app", proj, "group//app", false},
		{"project /group/app", proj, "/group/app", false},
		{"project group/app/", proj, "group/app/", false},
		{"project with a query", proj, "group/app?private_token=x", false},
		{"project percent-encoded ..", proj, "%2e%2e/x", false},
		{"project unicode", proj, "grüppe/app", false},
		{"project ID 0", proj, "0", false},
		{"project ID -1", proj, "-1", false},
		{"project 2049 chars (field limit 2048)", proj, "g/" + long(2047), false},
		{"sha empty", sha, "", false},
		{"sha short", sha, "abc123", false},
		{"sha 41 hex", sha, strings.Repeat("a", 41), false},
		{"sha uppercase", sha, strings.Repeat("A", 40), false},
		{"sha path", sha, "../../../../etc/passwd", false},
		{"sha unicode", sha, strings.Repeat("ä", 20), false},
		{"sha 257 chars (field limit 256)", sha, long(257), false},
		{"ref empty", ref, "", false},
		{"ref with a space", ref, "feature branch", false},
		{"ref with ..", ref, "a..b", false},
		{"ref refs/../x", ref, "refs/../x", false},
		{"ref with @{", ref, "main@{1}", false},
		{"ref with a newline", ref, "main\nx", false},
		{"ref 1025 chars (field limit 1024)", ref, long(1025), false},
		{"tag yes", tag, "yes", false},
		{"tag 2", tag, "2", false},
		{"credentials other-ns/secret", creds, otherNamespace + "/secret", false},
		{"credentials ../secret", creds, "../secret", false},
		{"credentials Bad_Name", creds, "Bad_Name", false},
		{"credentials unicode", creds, "gitläb", false},
		{"credentials 254 chars (field limit 253)", creds, long(254), false},
		{"approval duplicate source", appr, "source=Record,source=Pipeline", false},
		{"approval duplicate environment", appr, "environment=a,environment=b", false},
		{"approval environment 300 chars (field limit 255)", appr, "environment=" + long(300), false},
		{"approval environment unicode", appr, "environment=prödüction", false},
		{"approval negative timeout", appr, "timeout=-5m", false},
		{"approval timeout forever", appr, "timeout=forever", false},
		{"approval unknown source", appr, "source=Magic", false},
		{"approval misspelt key", appr, "sourc=Record", false},
		{"approval only commas", appr, ",,", false},
		{"approval yes", appr, "yes", false},
		{"gated, sha short", sha, "abc123", true},
		{"gated, project ../x", proj, "../x", true},
		{"gated, environment 1025 chars", env, long(1025), true},
		{"gated, credentials other-ns/secret", creds, otherNamespace + "/secret", true},
	}
}

// otherNamespace holds a Secret that no Deployment of the bad-input
// namespace may use.
const otherNamespace = "faults-other"

// badOutcome is what rollgate made of one bad input.
type badOutcome struct {
	in        badInput
	name      string
	gld       bool
	stalled   bool
	reason    string
	message   string
	warnings  []string
	requests  int
	paused    bool
	podsOfNew int
}

// TestBadInput creates a Deployment per bad annotation value and records
// what rollgate said. Promises: each is explained by a Stalled condition
// whose message names the annotation, and a Warning Event (on the
// Deployment or its GitLabDeployment); no GitLab request is made; a gated
// Deployment stays paused.
func TestBadInput(t *testing.T) {
	mgr := startGatedManager(t)
	ns := newNamespace(t, "bad")
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNamespace}}
	if err := k8s.Create(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), other) })
	if err := k8s.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: otherNamespace, Name: "secret"},
		StringData: map[string]string{"url": gitLab.URL, "token": harness.GitLabToken}}); err != nil {
		t.Fatal(err)
	}

	inputs := badInputs()
	start := time.Now()
	projects := make([]string, len(inputs))
	for i, in := range inputs {
		name := fmt.Sprintf("bad-%02d", i)
		projects[i] = newProject(t, name)
		if err := k8s.Create(t.Context(), badDeployment(ns, name, projects[i], in)); err != nil {
			t.Fatalf("%s: creating the Deployment: %v", in.what, err)
		}
	}
	outcomes := make([]badOutcome, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Go(func() { outcomes[i] = waitBadOutcome(t.Context(), ns, fmt.Sprintf("bad-%02d", i), in) })
	}
	wg.Wait()
	attributeRequests(outcomes, projects, start)

	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "  %-48s %-22s warnings=%-40s requests=%d%s\n", o.in.what, o.describe(),
			strings.Join(o.warnings, ","), o.requests, o.pausedNote())
	}
	t.Logf("Bad input: %s (%d inputs)\n  %-48s %-22s\n%s", t.Name(), len(outcomes), "input", "condition", b.String())
	explained := 0
	for _, o := range outcomes {
		if problems := o.problems(); len(problems) > 0 {
			t.Errorf("bad input %q (%s=%q): %s", o.in.what, o.in.key, truncate(o.in.value, 40), strings.Join(problems, "; "))
		} else {
			explained++
		}
	}
	lines, errs := logLines(mgr.LogPath, start)
	perInput := func(n int) string { return fmt.Sprintf("%.1f", float64(n)/float64(len(outcomes))) }
	// An error that needs a human is said once (a Warning, a log line),
	// not on every retry: a reconcile may meet it again before its
	// condition is stored, but not without end.
	if errs > 3*len(outcomes) {
		t.Errorf("%d reconciler errors logged for %d bad inputs in %s: an input that needs a human is logged again and again",
			errs, len(outcomes), time.Since(start).Round(time.Second))
	}
	logTable(t, "Bad input figures: "+t.Name(), [][2]string{
		{"bad inputs explained as promised", fmt.Sprintf("%d of %d", explained, len(outcomes))},
		{"manager log lines per bad input while they sit there", perInput(lines)},
		{"reconciler errors logged per bad input", perInput(errs)},
	})
}

// logLines counts the lines of a manager's JSON log stamped at or after
// start, and those of them that are reconciler errors.
func logLines(path string, start time.Time) (lines, errs int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var entry struct {
			TS  string `json:"ts"`
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		if ts, err := time.Parse(time.RFC3339, entry.TS); err != nil || ts.Before(start.Truncate(time.Second)) {
			continue
		}
		lines++
		if entry.Msg == "Reconciler error" {
			errs++
		}
	}
	return lines, errs
}

func badDeployment(ns, name, project string, in badInput) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	annotations := map[string]string{
		gitlabv1alpha1.AnnotationEnvironment: "production",
		gitlabv1alpha1.AnnotationProject:     project,
		gitlabv1alpha1.AnnotationSHA:         nextSHA(),
		gitlabv1alpha1.AnnotationRef:         "main",
	}
	if in.gated {
		annotations[gitlabv1alpha1.AnnotationApproval] = "true"
	}
	annotations[in.key] = in.value
	replicas := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app"}}},
			},
		},
	}
}

// waitBadOutcome waits until the Deployment's GitLabDeployment is stalled
// and a Warning Event is out, or params.BadInputWait passes, and reads the
// outcome.
func waitBadOutcome(ctx context.Context, ns, name string, in badInput) badOutcome {
	var o badOutcome
	waitUntil(ctx, 500*time.Millisecond, params.BadInputWait, func() bool {
		o = readBadOutcome(ctx, ns, name, in)
		return o.stalled && len(o.warnings) > 0
	})
	return o
}

func readBadOutcome(ctx context.Context, ns, name string, in badInput) badOutcome {
	o := badOutcome{in: in, name: name}
	var glds gitlabv1alpha1.GitLabDeploymentList
	_ = k8s.List(ctx, &glds, client.InNamespace(ns), client.MatchingLabels{gitlabv1alpha1.LabelWorkload: name})
	regarding := map[string]bool{"Deployment/" + name: true}
	for _, gld := range glds.Items {
		o.gld = true
		regarding["GitLabDeployment/"+gld.Name] = true
		if c := meta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
			o.stalled, o.reason, o.message = true, c.Reason, c.Message
		} else if c := meta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionReady); c != nil && !o.stalled {
			o.reason, o.message = "Ready="+string(c.Status)+" "+c.Reason, c.Message
		}
	}
	var events eventsv1.EventList
	_ = k8s.List(ctx, &events, client.InNamespace(ns))
	for _, e := range events.Items {
		if e.Type == corev1.EventTypeWarning && regarding[e.Regarding.Kind+"/"+e.Regarding.Name] && !slices.Contains(o.warnings, e.Reason) {
			o.warnings = append(o.warnings, e.Reason)
		}
	}
	d := &appsv1.Deployment{}
	if k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d) == nil {
		o.paused = d.Spec.Paused
		var pods corev1.PodList
		_ = k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": name})
		o.podsOfNew = len(pods.Items)
	}
	return o
}

// attributeRequests counts the GitLab requests since start that concern
// each input: its own project, or the project value it typed.
func attributeRequests(outcomes []badOutcome, projects []string, start time.Time) {
	for _, r := range requests("", start, time.Time{}, nil) {
		for i := range outcomes {
			if concerns(r, projects[i], outcomes[i].in) {
				outcomes[i].requests++
			}
		}
	}
}

func concerns(r gitlabtest.Request, project string, in badInput) bool {
	rest, ok := strings.CutPrefix(r.Path, "/api/v4/projects/")
	if !ok {
		return false
	}
	id, _, _ := strings.Cut(rest, "/")
	unescaped, err := url.PathUnescape(id)
	if err != nil {
		unescaped = id
	}
	return unescaped == project || in.key == gitlabv1alpha1.AnnotationProject && unescaped == strings.TrimSpace(in.value)
}

func (o badOutcome) describe() string {
	switch {
	case !o.gld:
		return "no GitLabDeployment"
	case o.stalled:
		return "Stalled " + o.reason
	case o.reason == "":
		return "no condition"
	}
	return o.reason
}

func (o badOutcome) pausedNote() string {
	if !o.in.gated && o.in.key != gitlabv1alpha1.AnnotationApproval {
		return ""
	}
	return fmt.Sprintf(" paused=%v pods=%d", o.paused, o.podsOfNew)
}

// problems lists the promises the outcome breaks.
func (o badOutcome) problems() []string {
	var out []string
	switch {
	case !o.gld:
		out = append(out, "no GitLabDeployment, so no Stalled condition")
	case !o.stalled:
		out = append(out, fmt.Sprintf("not Stalled (condition %q: %s)", o.reason, truncate(o.message, 120)))
	case !strings.Contains(o.message, o.in.key):
		out = append(out, fmt.Sprintf("Stalled %s, but its message does not name %s: %s", o.reason, o.in.key, truncate(o.message, 120)))
	}
	if len(o.warnings) == 0 {
		out = append(out, "no Warning Event on the Deployment or its GitLabDeployment")
	}
	if o.requests > 0 {
		out = append(out, fmt.Sprintf("%d GitLab requests were made", o.requests))
	}
	gated := o.in.gated || o.in.key == gitlabv1alpha1.AnnotationApproval
	if gated && (!o.paused || o.podsOfNew > 0) {
		out = append(out, fmt.Sprintf("the gated Deployment was not held (paused=%v, %d pods)", o.paused, o.podsOfNew))
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
