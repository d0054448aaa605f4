package gitlabtest_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// approvalWorld adds groups security (qa1, qa2) and ops (op1), all
// reporters on the project, and returns a blocked CI deployment on
// production protected with the given rules.
func approvalWorld(t *testing.T, pe gitlabtest.ProtectedEnvironmentSpec) (*world, gitlabtest.Job) {
	t.Helper()
	w := newWorld(t)
	err := w.Seed(gitlabtest.Seed{
		Users:  []gitlabtest.UserSpec{{Username: "qa1"}, {Username: "qa2"}, {Username: "op1"}},
		Groups: []gitlabtest.GroupSpec{{Path: "security"}, {Path: "ops"}},
		Tokens: []gitlabtest.TokenSpec{{Token: "tok-qa1", User: "qa1"}, {Token: "tok-qa2", User: "qa2"}, {Token: "tok-op1", User: "op1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][2]string{{"security", "qa1"}, {"security", "qa2"}, {"ops", "op1"}} {
		_ = w.AddGroupMember(m[0], m[1], gitlabtest.Developer)
		_ = w.AddMember(projectID, m[1], gitlabtest.Reporter)
	}
	pe.Project, pe.Name = projectID, "production"
	if err := w.ProtectEnvironment(pe); err != nil {
		t.Fatal(err)
	}
	job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "production", Ref: "main", User: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	return w, job
}

func (w *world) approve(t *testing.T, token string, id int64, v url.Values) response {
	return w.do(t, http.MethodPost, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10)+"/approval", token, v)
}

func TestApprovalRulesCountedPerRule(t *testing.T) {
	g := NewWithT(t)
	w, job := approvalWorld(t, gitlabtest.ProtectedEnvironmentSpec{ApprovalRules: []gitlabtest.ApprovalRuleSpec{
		{AccessRuleSpec: gitlabtest.AccessRuleSpec{Group: "security"}, RequiredApprovals: 2},
		{AccessRuleSpec: gitlabtest.AccessRuleSpec{Group: "ops"}, RequiredApprovals: 1},
	}})
	g.Expect(job.Status).To(Equal("manual"))
	g.Expect(job.DeploymentStatus).To(Equal("blocked"))
	id := job.DeploymentID
	r := w.approve(t, "tok-qa1", id, url.Values{"status": {"approved"}, "comment": {"LGTM"}})
	g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
	g.Expect(r.body).To(MatchJSON(`{"user":` + mustUser(t, w, "qa1") + `,"status":"approved","created_at":"2024-05-01T10:00:00.000Z","comment":"LGTM"}`))
	// Same status again: unchanged, new comment ignored.
	r = w.approve(t, "tok-qa1", id, url.Values{"status": {"approved"}, "comment": {"other"}})
	g.Expect(r.json()["comment"]).To(Equal("LGTM"))
	g.Expect(w.approve(t, "tok-qa2", id, url.Values{"status": {"approved"}}).status).To(Equal(201))

	get := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10), "tok-dev", nil).json()
	g.Expect(get["pending_approval_count"]).To(BeNumerically("==", 1))
	rules := get["approval_summary"].(map[string]any)["rules"].([]any)
	g.Expect(rules).To(HaveLen(2))
	first := rules[0].(map[string]any)
	g.Expect(first["required_approvals"]).To(BeNumerically("==", 2))
	g.Expect(first["access_level_description"]).To(Equal("security"))
	g.Expect(first["deployment_approvals"]).To(HaveLen(2))
	g.Expect(get["approvals"]).To(HaveLen(2))

	// Rules: completing approvals does not start the job.
	g.Expect(w.approve(t, "tok-op1", id, url.Values{"status": {"approved"}}).status).To(Equal(201))
	j, _ := w.Job(job.ID)
	g.Expect(j.Status).To(Equal("manual"))
	expectBody(g, w.approve(t, "tok-op1", id, url.Values{"status": {"rejected"}}), 400, `{"message":"This deployment is not waiting for approvals."}`)
	// Play, run, succeed.
	_, err := w.PlayJob(job.ID, "maint")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.RunJob(job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	j, err = w.SucceedJob(job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(j.DeploymentStatus).To(Equal("success"))
}

func mustUser(t *testing.T, w *world, name string) string {
	t.Helper()
	return `{"id":` + map[string]string{"qa1": "8", "qa2": "9", "op1": "10"}[name] + `,"username":"` + name + `","name":"` + name +
		`","state":"active","locked":false,"avatar_url":"https://www.gravatar.com/avatar/` + gravatar(name+"@example.com") +
		`?s=80&d=identicon","web_url":"` + w.URL + `/` + name + `"}`
}

func TestApprovalErrors(t *testing.T) {
	w, job := approvalWorld(t, gitlabtest.ProtectedEnvironmentSpec{ApprovalRules: []gitlabtest.ApprovalRuleSpec{
		{AccessRuleSpec: gitlabtest.AccessRuleSpec{Group: "security"}, RequiredApprovals: 1},
	}})
	id := job.DeploymentID
	apiDep := w.create(t, "tok-maint", "staging", "main", shaMain, "running")
	cases := []struct {
		name, token string
		id          int64
		v           url.Values
		status      int
		body        string
	}{
		{"bad status", "tok-qa1", id, url.Values{"status": {"foo"}}, 400, `{"error":"status does not have a valid value"}`},
		{"missing status", "tok-qa1", id, url.Values{}, 400, `{"error":"status is missing, status does not have a valid value"}`},
		{"guest", "tok-guest", id, url.Values{"status": {"approved"}}, 403, `{"message":"403 Forbidden"}`},
		{"non member", "tok-outsider", id, url.Values{"status": {"approved"}}, 404, `{"message":"404 Project Not Found"}`},
		{"no deployment", "tok-qa1", 0, url.Values{"status": {"approved"}}, 404, `{"message":"404 Not found"}`},
		{"not protected", "tok-maint", apiDep, url.Values{"status": {"approved"}}, 400, `{"message":"This environment is not protected."}`},
		{"self approval", "tok-dev", id, url.Values{"status": {"approved"}}, 400, `{"message":"You cannot approve your own deployment. This configuration can be adjusted in the protected environment settings."}`},
		{"no matching rule", "tok-maint", id, url.Values{"status": {"approved"}}, 400, `{"message":"You don't have permission to approve this deployment. Contact the project or group owner for help."}`},
		{"represented_as", "tok-qa1", id, url.Values{"status": {"approved"}, "represented_as": {"qa"}}, 400, "{\"message\":\"There are no approval rules for the given `represent_as` parameter. Use a valid User/Group/Role name instead.\"}"},
		{"comment too long", "tok-qa1", id, url.Values{"status": {"approved"}, "comment": {strings.Repeat("x", 256)}}, 400, `{"message":["Comment is too long (maximum is 255 characters)"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectBody(NewWithT(t), w.approve(t, tc.token, tc.id, tc.v), tc.status, tc.body)
		})
	}
	t.Run("represented_as matches the group", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(w.approve(t, "tok-qa1", id, url.Values{"status": {"approved"}, "represented_as": {"secur"}}).status).To(Equal(201))
	})
}

func TestRejectionFailsJob(t *testing.T) {
	g := NewWithT(t)
	w, job := approvalWorld(t, gitlabtest.ProtectedEnvironmentSpec{RequiredApprovalCount: 2})
	id := job.DeploymentID
	// Rejecting one's own deployment is allowed.
	_ = w.AddMember(projectID, "dev", gitlabtest.Maintainer)
	r := w.approve(t, "tok-dev", id, url.Values{"status": {"rejected"}, "comment": {"no"}})
	g.Expect(r.status).To(Equal(201), r.body)
	j, _ := w.Job(job.ID)
	g.Expect(j.Status).To(Equal("failed"))
	g.Expect(j.FailureReason).To(Equal("deployment_rejected"))
	g.Expect(j.DeploymentStatus).To(Equal("failed"))
}

func TestLegacyApprovalsEnqueueJob(t *testing.T) {
	g := NewWithT(t)
	w, job := approvalWorld(t, gitlabtest.ProtectedEnvironmentSpec{RequiredApprovalCount: 2})
	id := job.DeploymentID
	// Legacy: approvers need deploy rights (maintainer by default).
	expectBody(g, w.approve(t, "tok-qa1", id, url.Values{"status": {"approved"}}), 400,
		`{"message":"You don't have permission to approve this deployment. Contact the project or group owner for help."}`)
	g.Expect(w.approve(t, "tok-maint", id, url.Values{"status": {"approved"}}).status).To(Equal(201))
	// Switching approved → rejected → approved updates status and comment.
	r := w.approve(t, "tok-maint", id, url.Values{"status": {"rejected"}, "comment": {"wait"}})
	g.Expect(r.json()["status"]).To(Equal("rejected"))
	g.Expect(r.json()["comment"]).To(Equal("wait"))
	d, _ := w.Deployment(id)
	g.Expect(d.Status).To(Equal("failed"))
}

func TestLegacyApprovalCompletesAndEnqueues(t *testing.T) {
	g := NewWithT(t)
	w, job := approvalWorld(t, gitlabtest.ProtectedEnvironmentSpec{RequiredApprovalCount: 2})
	id := job.DeploymentID
	g.Expect(w.approve(t, "tok-maint", id, url.Values{"status": {"approved"}}).status).To(Equal(201))
	j, _ := w.Job(job.ID)
	g.Expect(j.Status).To(Equal("manual"))
	g.Expect(w.approve(t, "tok-owner", id, url.Values{"status": {"approved"}}).status).To(Equal(201))
	j, _ = w.Job(job.ID)
	g.Expect(j.Status).To(Equal("pending"))
	g.Expect(j.DeploymentStatus).To(Equal("blocked"))
	j, _ = w.RunJob(job.ID)
	g.Expect(j.DeploymentStatus).To(Equal("running"))
	// CI deployments cannot be updated through the API.
	c := w.client(t, "tok-maint")
	_, _, err := c.Deployments.UpdateProjectDeployment(1, id, &gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusSuccess)})
	g.Expect(gitlab.HasStatusCode(err, 403)).To(BeTrue())
	expectBody(g, w.do(t, http.MethodPut, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10), "tok-maint", url.Values{"status": {"success"}}),
		403, `{"message":"403 Forbidden - Deployments created using GitLab CI can not be updated using the API"}`)
	// Through the Go client the approval body is discarded but the call works.
	_, err = c.Deployments.ApproveOrRejectProjectDeployment(1, id, &gitlab.ApproveOrRejectProjectDeploymentOptions{Status: new(gitlab.DeploymentApprovalStatusApproved)})
	g.Expect(gitlab.HasStatusCode(err, 400)).To(BeTrue())
}

func TestProtectedEnvironmentAccess(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	g.Expect(w.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: projectID, Name: "production"})).To(Succeed())
	post := func(token string) response {
		return w.do(t, http.MethodPost, "/api/v4/projects/1/deployments", token, url.Values{
			"environment": {"production"}, "ref": {"main"}, "sha": {shaMain}, "tag": {"false"}, "status": {"running"}})
	}
	expectBody(g, post("tok-dev"), 403, `{"message":"403 Forbidden"}`)
	g.Expect(post("tok-maint").status).To(Equal(201))
	g.Expect(post("tok-admin").status).To(Equal(201))
	r := w.do(t, http.MethodPut, "/api/v4/projects/1/deployments/1", "tok-dev", url.Values{"status": {"success"}})
	expectBody(g, r, 403, `{"message":"403 Forbidden"}`)
	get := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/1", "tok-reporter", nil).json()
	g.Expect(get["pending_approval_count"]).To(BeNumerically("==", 0))
}
