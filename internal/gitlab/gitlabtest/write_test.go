package gitlabtest_test

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func TestCreateGetThroughClient(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	c := w.client(t, "tok-dev")
	d, resp, err := c.Deployments.CreateProjectDeployment("acme/shop", &gitlab.CreateProjectDeploymentOptions{
		Environment: new("production"), Ref: new("main"), SHA: new(shaMain), Tag: new(false),
		Status: new(gitlab.DeploymentStatusRunning)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	g.Expect(d.IID).To(Equal(int64(1)))
	g.Expect(d.Status).To(Equal("running"))
	g.Expect(d.Environment.Name).To(Equal("production"))
	g.Expect(d.User.Username).To(Equal("dev"))
	g.Expect(d.Deployable.ID).To(BeZero())
	g.Expect(*d.CreatedAt).To(Equal(epoch))

	got, _, err := c.Deployments.GetProjectDeployment(1, d.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.SHA).To(Equal(shaMain))

	_, _, err = c.Deployments.GetProjectDeployment(1, 999)
	g.Expect(errors.Is(err, gitlab.ErrNotFound)).To(BeTrue())
}

func TestCreateResponseShape(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	r := w.do(t, http.MethodPost, "/api/v4/projects/"+projectEnc+"/deployments", "tok-maint",
		`{"environment":"review/app-1","ref":"main","sha":"`+shaMain+`","tag":false,"status":"success"}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
	g.Expect(r.body).To(MatchJSON(`{
	  "id": 1, "iid": 1, "ref": "main", "sha": "` + shaMain + `",
	  "created_at": "2024-05-01T10:00:00.000Z", "updated_at": "2024-05-01T10:00:00.000Z",
	  "user": {"id": 2, "username": "maint", "name": "maint", "state": "active", "locked": false,
	    "avatar_url": "https://www.gravatar.com/avatar/` + gravatar("maint@example.com") + `?s=80&d=identicon",
	    "web_url": "` + w.URL + `/maint"},
	  "environment": {"id": 1, "name": "review/app-1", "slug": "` + gitlabtest.EnvironmentSlug("review/app-1") + `",
	    "external_url": null, "created_at": "2024-05-01T10:00:00.000Z", "updated_at": "2024-05-01T10:00:00.000Z"},
	  "deployable": null, "status": "success",
	  "pending_approval_count": 0, "approvals": [], "approval_summary": {"rules": []}}`))
}

func TestCreateErrors(t *testing.T) {
	w := newWorld(t)
	post := func(token string, v url.Values) response {
		return w.do(t, http.MethodPost, "/api/v4/projects/1/deployments", token, v)
	}
	valid := func() url.Values {
		return url.Values{"environment": {"production"}, "ref": {"main"}, "sha": {shaMain}, "tag": {"false"}, "status": {"success"}}
	}
	t.Run("missing params", func(t *testing.T) {
		expectBody(NewWithT(t), post("tok-dev", url.Values{}), 400,
			`{"error":"environment is missing, sha is missing, ref is missing, tag is missing, status is missing, status does not have a valid value"}`)
	})
	t.Run("created is not writable", func(t *testing.T) {
		v := valid()
		v.Set("status", "created")
		expectBody(NewWithT(t), post("tok-dev", v), 400, `{"error":"status does not have a valid value"}`)
	})
	t.Run("bad tag", func(t *testing.T) {
		v := valid()
		v.Set("tag", "maybe")
		expectBody(NewWithT(t), post("tok-dev", v), 400, `{"error":"tag is invalid"}`)
	})
	t.Run("unknown ref", func(t *testing.T) {
		v := valid()
		v.Set("ref", "doesnotexist")
		expectBody(NewWithT(t), post("tok-dev", v), 400, `{"message":{"ref":["The branch or tag does not exist"]}}`)
	})
	t.Run("name too long", func(t *testing.T) {
		v := valid()
		v.Set("environment", strings.Repeat("a", 300))
		expectBody(NewWithT(t), post("tok-dev", v), 400, `{"message":{"name":["is too long (maximum is 255 characters)"]}}`)
	})
	t.Run("name format", func(t *testing.T) {
		v := valid()
		v.Set("environment", "/prod")
		expectBody(NewWithT(t), post("tok-dev", v), 400, `{"message":{"name":["can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, but it cannot start or end with '/'"]}}`)
	})
	t.Run("unknown sha leaves the environment created", func(t *testing.T) {
		g := NewWithT(t)
		v := valid()
		v.Set("environment", "staging")
		v.Set("sha", "abcdefabcdefabcdefabcdefabcdefabcdefabcd")
		expectBody(g, post("tok-dev", v), 400, `{"message":{"sha":["The commit does not exist"]}}`)
		envs, err := w.Environments(projectID)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(envs).To(ContainElement(HaveField("Name", "staging")))
	})
	t.Run("reporter forbidden", func(t *testing.T) {
		expectBody(NewWithT(t), post("tok-reporter", valid()), 403, `{"message":"403 Forbidden"}`)
	})
	t.Run("non member", func(t *testing.T) {
		expectBody(NewWithT(t), post("tok-outsider", valid()), 404, `{"message":"404 Project Not Found"}`)
	})
}

func TestCreateDeduplicatesRepeatedSuccess(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	first := w.create(t, "tok-dev", "production", "main", shaMain, "success")
	w.clock.Advance(time.Minute)
	again := w.create(t, "tok-dev", "production", "main", shaMain, "success")
	g.Expect(again).To(Equal(first))
	other := w.create(t, "tok-dev", "production", "main", shaMain, "failed")
	g.Expect(other).NotTo(Equal(first))
	ds, _ := w.Deployments(projectID, "")
	g.Expect(ds).To(HaveLen(2))
}

func TestUpdate(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	c := w.client(t, "tok-dev")
	id := w.create(t, "tok-dev", "production", "main", shaMain, "running")
	w.clock.Advance(time.Second)
	d, _, err := c.Deployments.UpdateProjectDeployment(1, id, &gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusSuccess)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.Status).To(Equal("success"))
	g.Expect(*d.UpdatedAt).To(Equal(epoch.Add(time.Second)))

	_, _, err = c.Deployments.UpdateProjectDeployment(1, id, &gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusRunning)})
	var er *gitlab.ErrorResponse
	g.Expect(errors.As(err, &er)).To(BeTrue())
	g.Expect(er.Response.StatusCode).To(Equal(400))
	g.Expect(er.Message).To(Equal(`{message: {status: [cannot transition via "run"]}}`))

	path := "/api/v4/projects/1/deployments/" + strconv.FormatInt(id, 10)
	expectBody(g, w.do(t, http.MethodPut, path, "tok-dev", url.Values{"status": {"bogus"}}), 400, `{"error":"status does not have a valid value"}`)
	expectBody(g, w.do(t, http.MethodPut, "/api/v4/projects/1/deployments/999", "tok-dev", url.Values{"status": {"failed"}}), 404, `{"message":"404 Not found"}`)
	expectBody(g, w.do(t, http.MethodPut, path, "tok-reporter", url.Values{"status": {"failed"}}), 403, `{"message":"403 Forbidden"}`)
	expectBody(g, w.do(t, http.MethodPut, path, "tok-outsider", url.Values{"status": {"failed"}}), 404, `{"message":"404 Project Not Found"}`)
}

func TestStateMachine(t *testing.T) {
	statuses := []string{"running", "success", "failed", "canceled"}
	events := map[string]string{"running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel"}
	allowed := func(from, to string) bool {
		if to == "running" {
			return from == "created" || from == "blocked"
		}
		return from != to
	}
	for _, from := range statuses {
		for _, to := range []string{"running", "success", "failed", "canceled"} {
			t.Run(from+"→"+to, func(t *testing.T) {
				g := NewWithT(t)
				w := newWorld(t)
				id := w.create(t, "tok-maint", "production", "main", shaMain, from)
				r := w.do(t, http.MethodPut, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10), "tok-maint", url.Values{"status": {to}})
				if allowed(from, to) {
					g.Expect(r.status).To(Equal(200), r.body)
					g.Expect(r.json()["status"]).To(Equal(to))
					return
				}
				expectBody(g, r, 400, `{"message":{"status":["cannot transition via \"`+events[to]+`\""]}}`)
			})
		}
	}
}

func TestFinishedAtAndLastDeployment(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	old := w.create(t, "tok-maint", "production", "main", shaOld, "success")
	w.clock.Advance(time.Minute)
	cur := w.create(t, "tok-maint", "production", "main", shaMain, "success")
	del := func(id int64) response {
		return w.do(t, http.MethodDelete, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10), "tok-maint", nil)
	}
	expectBody(g, del(cur), 400, `{"message":"Deployment currently deployed to environment"}`)
	// Failing the current success makes the previous one current again.
	w.clock.Advance(time.Minute)
	g.Expect(w.do(t, http.MethodPut, "/api/v4/projects/1/deployments/"+strconv.FormatInt(cur, 10), "tok-maint",
		url.Values{"status": {"failed"}}).status).To(Equal(200))
	expectBody(g, del(old), 400, `{"message":"Deployment currently deployed to environment"}`)
	d, _ := w.Deployment(cur)
	g.Expect(d.FinishedAt).To(Equal(epoch.Add(2 * time.Minute)))
	r := del(cur)
	g.Expect(r.status).To(Equal(http.StatusNoContent))
	g.Expect(r.body).To(BeEmpty())
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	running := w.create(t, "tok-maint", "production", "main", shaMain, "running")
	failed := w.create(t, "tok-maint", "production", "main", shaMain, "failed")
	path := func(id int64) string { return "/api/v4/projects/1/deployments/" + strconv.FormatInt(id, 10) }
	expectBody(g, w.do(t, http.MethodDelete, path(running), "tok-maint", nil), 400, `{"message":"Cannot destroy running deployment"}`)
	expectBody(g, w.do(t, http.MethodDelete, path(failed), "tok-dev", nil), 403, `{"message":"403 Forbidden"}`)
	expectBody(g, w.do(t, http.MethodDelete, path(999), "tok-owner", nil), 404, `{"message":"404 Not found"}`)
	expectBody(g, w.do(t, http.MethodDelete, "/api/v4/projects/1/deployments/abc", "tok-owner", nil), 400, `{"error":"deployment_id is invalid"}`)
	stale := epoch.Add(-time.Hour).Format(http.TimeFormat)
	expectBody(g, w.do(t, http.MethodDelete, path(failed), "tok-maint", nil, "If-Unmodified-Since", stale), 412, `{"message":"412 Precondition Failed"}`)
	_, err := w.client(t, "tok-maint").Deployments.DeleteProjectDeployment(1, failed)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.Deployment(failed)
	g.Expect(err).To(HaveOccurred())
}
