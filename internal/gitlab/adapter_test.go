package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestCreateDeployment(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusCreated, apiDeploymentJSON)
	})
	c := newClient(t, testConfig(), srv.URL)

	d, err := c.CreateDeployment(context.Background(), testProject, CreateOptions{
		Environment: "production", Ref: "main", SHA: testSHA, Tag: false, Status: StatusRunning,
	})
	g.Expect(err).NotTo(HaveOccurred())

	req := srv.last()
	g.Expect(req.Method).To(Equal(http.MethodPost))
	g.Expect(req.Path).To(Equal("/api/v4/projects/group%2Fapp/deployments"))
	g.Expect(req.Token).To(Equal(testToken))
	var body map[string]any
	g.Expect(json.Unmarshal([]byte(req.Body), &body)).To(Succeed())
	g.Expect(body).To(Equal(map[string]any{
		"environment": "production", "ref": "main", "sha": testSHA, "tag": false, "status": "running",
	}))

	g.Expect(*d).To(Equal(Deployment{
		ID: 42, IID: 7, Status: StatusRunning, Ref: "main", SHA: testSHA,
		Environment: "production", EnvironmentID: 9,
		CreatedAt: time.Date(2026, 3, 2, 10, 0, 0, 123e6, time.UTC),
		UpdatedAt: time.Date(2026, 3, 2, 10, 0, 0, 123e6, time.UTC),
		User:      "rollgate-bot",
	}))
}

func TestUpdateDeploymentStatus(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, `{"id": 42, "iid": 7, "status": "success", "ref": "main", "sha": "`+testSHA+`",
		  "environment": {"id": 9, "name": "production"}, "deployable": null}`)
	})
	c := newClient(t, testConfig(), srv.URL)

	d, err := c.UpdateDeploymentStatus(context.Background(), "3", 42, StatusSuccess)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.Status).To(Equal(StatusSuccess))
	g.Expect(d.Deployable).To(BeNil())

	req := srv.last()
	g.Expect(req.Method).To(Equal(http.MethodPut))
	g.Expect(req.Path).To(Equal("/api/v4/projects/3/deployments/42"))
	g.Expect(req.Body).To(MatchJSON(`{"status": "success"}`))
}

func TestGetDeploymentParsesApprovals(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, blockedDeploymentJSON)
	})
	c := newClient(t, testConfig(), srv.URL)

	d, err := c.GetDeployment(context.Background(), testProject, 51)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.last().Path).To(Equal("/api/v4/projects/group%2Fapp/deployments/51"))

	approvedAt := time.Date(2026, 3, 2, 9, 59, 30, 0, time.UTC)
	alice := Approval{User: "alice", UserID: 5, Status: ApprovalApproved, Comment: "LGTM", CreatedAt: approvedAt}
	g.Expect(d.Status).To(Equal(StatusBlocked))
	g.Expect(d.Deployable).To(Equal(&Job{
		ID: 1001, Name: "deploy-production", Status: "manual", Ref: "main", PipelineID: 501,
		WebURL: "https://gitlab.example.com/group/app/-/jobs/1001",
	}))
	g.Expect(d.PendingApprovalCount).To(Equal(1))
	g.Expect(d.Approvals).To(Equal([]Approval{alice}))
	g.Expect(d.Rules).To(Equal([]ApprovalRule{{ID: 3, Name: "security", RequiredApprovals: 2, Approvals: []Approval{alice}}}))
	g.Expect(d.Rejected()).To(BeFalse())
}

func TestDeploymentRejected(t *testing.T) {
	g := NewWithT(t)
	var e deploymentEntity
	g.Expect(json.Unmarshal([]byte(`{"id": 1, "status": "failed", "pending_approval_count": 1,
	  "approvals": [{"user": {"id": 6, "username": "bob"}, "status": "rejected", "comment": "not today", "created_at": "2026-03-02T10:00:00Z"}],
	  "approval_summary": {"rules": [{"id": 3, "access_level_description": "Maintainers", "required_approvals": 1,
	    "deployment_approvals": [{"user": {"id": 6, "username": "bob"}, "status": "rejected", "comment": "not today"}]}]}}`), &e)).To(Succeed())
	d := e.toDeployment()
	g.Expect(d.Rejected()).To(BeTrue())
	g.Expect(d.Approvals[0].Comment).To(Equal("not today"))
	g.Expect(d.Rules[0].Name).To(Equal("Maintainers"))
}

// pagedHandler serves ids 1..total, perPage at a time, newest first, with
// GitLab's offset pagination headers and no Link header.
func pagedHandler(total int) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		var items []string
		for i := (page - 1) * perPage; i < page*perPage && i < total; i++ {
			items = append(items, fmt.Sprintf(`{"id": %d, "iid": %d, "status": "success", "sha": %q, "deployable": null}`, total-i, total-i, testSHA))
		}
		next := ""
		if page*perPage < total {
			next = strconv.Itoa(page + 1)
		}
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", strconv.Itoa(perPage))
		w.Header().Set("X-Next-Page", next)
		w.Header().Set("X-Total", strconv.Itoa(total))
		reply(w, http.StatusOK, "["+strings.Join(items, ",")+"]")
	}
}

func TestListDeploymentsFollowsPagination(t *testing.T) {
	tests := []struct {
		name      string
		opts      ListOptions
		wantCount int
		wantPages int
	}{
		{name: "all pages", opts: ListOptions{PerPage: 2}, wantCount: 5, wantPages: 3},
		{name: "max items stops early", opts: ListOptions{PerPage: 2, MaxItems: 3}, wantCount: 3, wantPages: 2},
		{name: "one page", opts: ListOptions{}, wantCount: 5, wantPages: 1},
		{name: "page no larger than max items", opts: ListOptions{MaxItems: 4}, wantCount: 4, wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newGitLabServer(t, pagedHandler(5))
			c := newClient(t, testConfig(), srv.URL)

			got, err := c.ListDeployments(context.Background(), testProject, tt.opts)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(HaveLen(tt.wantCount))
			g.Expect(srv.count()).To(Equal(tt.wantPages))
			for i, d := range got {
				g.Expect(d.ID).To(Equal(int64(5 - i)))
			}
		})
	}
}

func TestListDeploymentsQuery(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("X-Next-Page", "")
		reply(w, http.StatusOK, `[]`)
	})
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()

	_, err := c.ListDeployments(ctx, testProject, ListOptions{Environment: "production", Status: StatusSuccess, OrderBy: "id", Sort: "desc"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.last().Query).To(Equal(map[string][]string{
		"environment": {"production"}, "status": {"success"}, "order_by": {"id"}, "sort": {"desc"},
		"page": {"1"}, "per_page": {"100"},
	}))

	after := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	_, err = c.ListDeployments(ctx, testProject, ListOptions{Environment: "production", UpdatedAfter: after})
	g.Expect(err).NotTo(HaveOccurred())
	q := srv.last().Query
	g.Expect(q["order_by"]).To(Equal([]string{"updated_at"}))
	g.Expect(q["updated_after"]).To(Equal([]string{"2026-03-02T09:00:00Z"}))
}

func TestInvalidInputFailsWithoutRequest(t *testing.T) {
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"create with empty project", func() error {
			_, err := c.CreateDeployment(ctx, "", CreateOptions{Status: StatusRunning})
			return err
		}},
		{"create blocked", func() error {
			_, err := c.CreateDeployment(ctx, testProject, CreateOptions{Status: StatusBlocked})
			return err
		}},
		{"update to created", func() error {
			_, err := c.UpdateDeploymentStatus(ctx, testProject, 1, StatusCreated)
			return err
		}},
		{"get with empty project", func() error {
			_, err := c.GetDeployment(ctx, "", 1)
			return err
		}},
		{"list with empty project", func() error {
			_, err := c.ListDeployments(ctx, "", ListOptions{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			err := tt.call()
			g.Expect(ClassOf(err)).To(Equal(Terminal))
			g.Expect(srv.count()).To(BeZero())
		})
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func(Client) error
		wantHits  int
		wantClass Class
	}{
		{"POST is never retried on 502", func(c Client) error {
			_, err := c.CreateDeployment(ctx, testProject, CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusRunning})
			return err
		}, 1, Transient},
		{"PUT is not retried on 502", func(c Client) error {
			_, err := c.UpdateDeploymentStatus(ctx, testProject, 42, StatusSuccess)
			return err
		}, 1, Transient},
		{"GET is retried on 502 up to RetryMax", func(c Client) error {
			_, err := c.GetDeployment(ctx, testProject, 42)
			return err
		}, 3, Transient},
		{"list is retried on 502 up to RetryMax", func(c Client) error {
			_, err := c.ListDeployments(ctx, testProject, ListOptions{})
			return err
		}, 3, Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
			})
			err := tt.call(newClient(t, testConfig(), srv.URL))
			g.Expect(srv.count()).To(Equal(tt.wantHits))
			e := asError(g, err)
			g.Expect(e.Class).To(Equal(tt.wantClass))
			g.Expect(e.StatusCode).To(Equal(http.StatusBadGateway))
		})
	}
}

func TestGetRecoversAfterRetry(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			reply(w, http.StatusServiceUnavailable, `{"message":"503 Service Unavailable"}`)
			return
		}
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	d, err := newClient(t, testConfig(), srv.URL).GetDeployment(context.Background(), testProject, 42)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.ID).To(Equal(int64(42)))
	g.Expect(srv.count()).To(Equal(2))
}

func TestPostTimeoutIsNotRetried(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		reply(w, http.StatusCreated, apiDeploymentJSON)
	})
	cfg := testConfig()
	cfg.RequestTimeout = 100 * time.Millisecond
	c := newClient(t, cfg, srv.URL)

	_, err := c.CreateDeployment(context.Background(), testProject, CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusRunning})
	e := asError(g, err)
	g.Expect(e.Class).To(Equal(Transient))
	g.Expect(e.StatusCode).To(BeZero())
	g.Expect(srv.count()).To(Equal(1))
}

func TestCanceledContext(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(t, testConfig(), srv.URL).GetDeployment(ctx, testProject, 42)
	g.Expect(ClassOf(err)).To(Equal(Transient))
	g.Expect(err).To(MatchError(context.Canceled))
	g.Expect(srv.count()).To(BeZero())
}

func TestFakeClientFailsUnsetMethods(t *testing.T) {
	g := NewWithT(t)
	f := &FakeClient{GetDeploymentFunc: func(context.Context, string, int64) (*Deployment, error) {
		return &Deployment{ID: 1}, nil
	}}
	d, err := f.GetDeployment(context.Background(), testProject, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.ID).To(Equal(int64(1)))
	_, err = f.CreateDeployment(context.Background(), testProject, CreateOptions{})
	g.Expect(err).To(MatchError(errUnexpectedCall))
	g.Expect(ClassOf(err)).To(Equal(Terminal))
}
