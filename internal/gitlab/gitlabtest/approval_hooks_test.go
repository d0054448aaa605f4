package gitlabtest_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// approvalHookFlow registers a hook on acme/shop, protects production with
// one rule for reporter and one for maint, creates a CI job deployment
// there, approves it as reporter (twice) and rejects it as maint. It
// returns the receiver once every delivery is done, and the deployment ID.
func approvalHookFlow(t *testing.T, w *world) (*hookReceiver, int64) {
	t.Helper()
	g := NewWithT(t)
	recv := &hookReceiver{}
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	g.Expect(w.AddHook(gitlabtest.HookSpec{Project: "acme/shop", URL: hs.URL, Token: "s3cret"})).To(Succeed())
	g.Expect(w.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: projectID, Name: "production",
		ApprovalRules: []gitlabtest.ApprovalRuleSpec{
			{AccessRuleSpec: gitlabtest.AccessRuleSpec{User: "reporter"}, RequiredApprovals: 1},
			{AccessRuleSpec: gitlabtest.AccessRuleSpec{User: "maint"}, RequiredApprovals: 1},
		}})).To(Succeed())
	job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "production", Ref: "main", User: "dev"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(job.DeploymentStatus).To(Equal("blocked"))
	for range 2 {
		r := w.approve(t, "tok-reporter", job.DeploymentID, url.Values{"status": {"approved"}, "comment": {"LGTM"}})
		g.Expect(r.status).To(Equal(201), r.body)
	}
	r := w.approve(t, "tok-maint", job.DeploymentID, url.Values{"status": {"rejected"}})
	g.Expect(r.status).To(Equal(201), r.body)
	w.WaitHooks()
	return recv, job.DeploymentID
}

func TestApprovalHooks(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, gitlabtest.WithApprovalHooks())
	recv, id := approvalHookFlow(t, w)
	// The repeated approval changes nothing and sends nothing; the
	// rejection fails the job, whose deployment fails.
	g.Expect(recv.statuses()).To(ConsistOf("blocked", "approved", "rejected", "failed"))
	recv.mu.Lock()
	defer recv.mu.Unlock()

	approved, hdr := recv.byStatus("approved")
	g.Expect(hdr.Get("X-Gitlab-Event")).To(Equal("Deployment Hook"))
	g.Expect(hdr.Get("X-Gitlab-Token")).To(Equal("s3cret"))
	g.Expect(approved["object_kind"]).To(Equal("deployment"))
	g.Expect(approved["deployment_id"]).To(BeNumerically("==", id))
	g.Expect(approved["environment"]).To(Equal("production"))
	g.Expect(approved["short_sha"]).To(Equal(shaMain[:8]))
	g.Expect(approved["project"].(map[string]any)["path_with_namespace"]).To(Equal("acme/shop"))
	g.Expect(approved["user"].(map[string]any)["username"]).To(Equal("dev"), "user is still the deployment's")
	g.Expect(approved["approver"]).To(Equal(map[string]any{"id": float64(4), "name": "reporter", "username": "reporter",
		"avatar_url": "https://www.gravatar.com/avatar/" + gravatar("reporter@example.com") + "?s=80&d=identicon",
		"email":      "[REDACTED]"}))
	approval := approved["approval"].(map[string]any)
	g.Expect(approval).To(HaveKeyWithValue("status", "approved"))
	g.Expect(approval).To(HaveKeyWithValue("comment", "LGTM"))
	g.Expect(approval).To(HaveKeyWithValue("user_id", float64(4)))
	g.Expect(approval).To(HaveKeyWithValue("created_at", "2024-05-01 10:00:00 +0000"))
	g.Expect(approval).To(HaveKey("id"))

	rejected, _ := recv.byStatus("rejected")
	g.Expect(rejected["approver"].(map[string]any)["username"]).To(Equal("maint"))
	g.Expect(rejected["approval"].(map[string]any)).To(HaveKeyWithValue("status", "rejected"))
	g.Expect(rejected["approval"].(map[string]any)).To(HaveKeyWithValue("comment", BeNil()))

	blocked, _ := recv.byStatus("blocked")
	g.Expect(blocked["deployment_id"]).To(BeNumerically("==", id))
	g.Expect(blocked).NotTo(HaveKey("approver"))
	g.Expect(blocked).NotTo(HaveKey("approval"))
	failed, _ := recv.byStatus("failed")
	g.Expect(failed).NotTo(HaveKey("approval"))
}

func TestApprovalHooksOffByDefault(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	recv, _ := approvalHookFlow(t, w)
	// GitLab without the approval lifecycle events: only the rejected
	// job's deployment failing is a hook.
	g.Expect(recv.statuses()).To(ConsistOf("failed"))
}

func TestApprovalHooksFromSeed(t *testing.T) {
	g := NewWithT(t)
	s, err := gitlabtest.ParseSeed([]byte("approval_hooks: true\n"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.ApprovalHooks).To(BeTrue())
	w := newWorld(t)
	g.Expect(w.Seed(s)).To(Succeed())
	recv, _ := approvalHookFlow(t, w)
	g.Expect(recv.statuses()).To(ConsistOf("blocked", "approved", "rejected", "failed"))
}
