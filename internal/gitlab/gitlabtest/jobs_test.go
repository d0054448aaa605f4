package gitlabtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func TestCIJobDeployable(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "staging", Ref: "main", User: "dev", Name: "deploy-staging"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(job.Status).To(Equal("pending"))
	g.Expect(job.DeploymentStatus).To(Equal("created"))
	w.clock.Advance(time.Second)
	_, err = w.RunJob(job.ID)
	g.Expect(err).NotTo(HaveOccurred())

	c := w.client(t, "tok-dev")
	d, _, err := c.Deployments.GetProjectDeployment(1, job.DeploymentID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.Status).To(Equal("running"))
	g.Expect(d.Deployable.ID).To(Equal(job.ID))
	g.Expect(d.Deployable.Name).To(Equal("deploy-staging"))
	g.Expect(d.Deployable.Status).To(Equal("running"))
	g.Expect(d.Deployable.Pipeline.ID).To(Equal(job.PipelineID))
	g.Expect(d.Deployable.Pipeline.WebURL).To(Equal(w.URL + "/acme/shop/-/pipelines/" + strconv.FormatInt(job.PipelineID, 10)))
	g.Expect(d.Deployable.User.Username).To(Equal("dev"))
	g.Expect(d.Deployable.Commit.ID).To(Equal(shaMain))
	raw := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/"+strconv.FormatInt(job.DeploymentID, 10), "tok-dev", nil).json()
	g.Expect(raw["deployable"].(map[string]any)["web_url"]).To(Equal(w.URL + "/acme/shop/-/jobs/" + strconv.FormatInt(job.ID, 10)))

	// The job token works while the job runs, and not after.
	r := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "", nil, "JOB-TOKEN", job.Token)
	g.Expect(r.status).To(Equal(200))
	_, err = w.FailJob(job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	r = w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "", nil, "JOB-TOKEN", job.Token)
	g.Expect(r.status).To(Equal(401))
	dep, _ := w.Deployment(job.DeploymentID)
	g.Expect(dep.Status).To(Equal("failed"))
	_, err = w.RunJob(job.ID)
	g.Expect(err).To(MatchError(gitlabtest.ErrInvalid))
}

func TestManualJobAndPlayRules(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	g.Expect(w.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: "acme/shop", Name: "production",
		ApprovalRules: []gitlabtest.ApprovalRuleSpec{{AccessRuleSpec: gitlabtest.AccessRuleSpec{AccessLevel: gitlabtest.Maintainer}, RequiredApprovals: 1}}})).To(Succeed())
	job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "production", Ref: "main", User: "dev"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.PlayJob(job.ID, "maint")
	g.Expect(err).To(MatchError(ContainSubstring("waiting for deployment approval")))
	r := w.approve(t, "tok-maint", job.DeploymentID, url.Values{"status": {"approved"}})
	g.Expect(r.status).To(Equal(201))
	_, err = w.PlayJob(job.ID, "dev")
	g.Expect(err).To(MatchError(ContainSubstring("may not deploy")))
	j, err := w.PlayJob(job.ID, "maint")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(j.Status).To(Equal("pending"))
	manual, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "staging", Ref: "main", User: "dev", Manual: true})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(manual.DeploymentStatus).To(Equal("blocked"))
	r = w.do(t, http.MethodGet, "/api/v4/projects/1/deployments?status=blocked", "tok-dev", nil)
	g.Expect(ids(r.list())).To(ConsistOf(int(job.DeploymentID), int(manual.DeploymentID)))
}

// hookReceiver collects webhook deliveries.
type hookReceiver struct {
	mu   sync.Mutex
	got  []map[string]any
	hdrs []http.Header
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	h.mu.Lock()
	h.got, h.hdrs = append(h.got, m), append(h.hdrs, r.Header.Clone())
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.got))
	for _, m := range h.got {
		out = append(out, m["status"].(string))
	}
	return out
}

// byStatus returns the payload received for a status.
func (h *hookReceiver) byStatus(status string) (map[string]any, http.Header) {
	for i, m := range h.got {
		if m["status"] == status {
			return m, h.hdrs[i]
		}
	}
	return nil, nil
}

func TestDeploymentHooks(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	recv := &hookReceiver{}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	g.Expect(w.AddHook(gitlabtest.HookSpec{Project: "acme/shop", URL: hs.URL, Token: "s3cret"})).To(Succeed())
	g.Expect(w.AddHook(gitlabtest.HookSpec{Project: "acme/shop", URL: "http://127.0.0.1:1/unreachable"})).To(Succeed())
	id := w.create(t, "tok-dev", "production", "main", shaMain, "running")
	c := w.client(t, "tok-dev")
	_, _, err := c.Deployments.UpdateProjectDeployment(1, id, &gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusSuccess)})
	g.Expect(err).NotTo(HaveOccurred())
	// A repeated success is deduplicated and sends nothing.
	w.create(t, "tok-dev", "production", "main", shaMain, "success")
	w.create(t, "tok-dev", "production", "main", shaMain, "canceled")
	job, _ := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "production", Ref: "main", User: "dev", Manual: true})
	_, _ = w.FailJob(job.ID)
	w.WaitHooks()
	// Deliveries are asynchronous, as GitLab's are: their order is not kept.
	g.Expect(recv.statuses()).To(ConsistOf("running", "success", "canceled", "failed"))
	recv.mu.Lock()
	defer recv.mu.Unlock()
	first, hdr := recv.byStatus("success")
	g.Expect(hdr.Get("X-Gitlab-Event")).To(Equal("Deployment Hook"))
	g.Expect(hdr.Get("X-Gitlab-Token")).To(Equal("s3cret"))
	g.Expect(first["object_kind"]).To(Equal("deployment"))
	g.Expect(first["deployment_id"]).To(BeNumerically("==", id))
	g.Expect(first["environment"]).To(Equal("production"))
	g.Expect(first["environment_tier"]).To(Equal("production"))
	g.Expect(first["short_sha"]).To(Equal(shaMain[:8]))
	g.Expect(first["deployable_id"]).To(BeNil())
	g.Expect(first["ref"]).To(Equal("main"))
	g.Expect(first["status_changed_at"]).To(Equal("2024-05-01 10:00:00 +0000"))
	g.Expect(first["project"].(map[string]any)["path_with_namespace"]).To(Equal("acme/shop"))
	failedHook, _ := recv.byStatus("failed")
	g.Expect(failedHook["deployable_url"]).To(Equal(w.URL + "/acme/shop/-/jobs/" + strconv.FormatInt(job.ID, 10)))
	failed := 0
	for _, d := range w.HookDeliveries() {
		if d.Error != "" {
			failed++
		}
	}
	g.Expect(failed).To(Equal(4))
}
