package gitlabtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func TestFaultsScopedToMethod(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	id := w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultError, Method: http.MethodPost, Status: 502})
	c := w.client(t, "tok-dev")
	_, _, err := c.Deployments.CreateProjectDeployment(1, &gitlab.CreateProjectDeploymentOptions{Environment: new("p"), Ref: new("main"),
		SHA: new(shaMain), Tag: new(false), Status: new(gitlab.DeploymentStatusRunning)})
	g.Expect(gitlab.HasStatusCode(err, 502)).To(BeTrue())
	_, _, err = c.Deployments.ListProjectDeployments(1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	ds, _ := w.Deployments(projectID, "")
	g.Expect(ds).To(BeEmpty())
	g.Expect(w.RemoveFault(id)).To(BeTrue())

	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultError, Endpoint: gitlabtest.EndpointList, Count: 1})
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil), 500, `{"message":"500 Internal Server Error"}`)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))

	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultError, Status: 503, From: epoch.Add(time.Minute), Until: epoch.Add(2 * time.Minute)})
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))
	w.clock.Advance(90 * time.Second)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(503))
	w.clock.Advance(time.Minute)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))
}

func TestDropAndLatency(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultDrop, Path: "/projects/*/deployments/*"})
	req, _ := http.NewRequest(http.MethodGet, w.URL+"/api/v4/projects/1/deployments/1", nil) //nolint:noctx // test
	req.Header.Set("PRIVATE-TOKEN", "tok-dev")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	g.Expect(err).To(HaveOccurred())
	w.ClearFaults()
	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultLatency, Latency: gitlabtest.Duration(50 * time.Millisecond)})
	start := time.Now()
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))
	g.Expect(time.Since(start)).To(BeNumerically(">=", 50*time.Millisecond))
	log := w.Requests()
	g.Expect(log[0].Status).To(Equal(0))
	g.Expect(log[0].Fault).To(Equal("drop"))
	g.Expect(log[0].Endpoint).To(Equal(gitlabtest.EndpointGet))
}

func TestLostAnswerTakesEffect(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultLoseAnswer, Method: http.MethodPost, Count: 1})
	body := strings.NewReader(`{"environment":"production","sha":"` + shaMain + `","ref":"main","tag":false,"status":"running"}`)
	req, _ := http.NewRequest(http.MethodPost, w.URL+"/api/v4/projects/1/deployments", body) //nolint:noctx // test
	req.Header.Set("PRIVATE-TOKEN", "tok-dev")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	g.Expect(err).To(HaveOccurred(), "the client gets no answer")
	ds, err := w.Deployments("acme/shop", "production")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ds).To(HaveLen(1), "but the deployment was created")
	log := w.Requests()
	g.Expect(log[len(log)-1].Status).To(Equal(http.StatusCreated))
	g.Expect(log[len(log)-1].Fault).To(Equal("lose-answer"))
}

func TestThrottle(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.SetRateLimit(gitlabtest.RateLimit{Limit: 2, Period: gitlabtest.Duration(time.Minute)})
	for range 2 {
		g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))
	}
	w.clock.Advance(15 * time.Second)
	r := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil)
	g.Expect(r.status).To(Equal(429))
	g.Expect(r.body).To(Equal("Retry later\n"))
	g.Expect(r.header.Get("Content-Type")).To(Equal("text/plain"))
	g.Expect(r.header.Get("RateLimit-Name")).To(Equal("throttle_authenticated_api"))
	g.Expect(r.header.Get("RateLimit-Limit")).To(Equal("2"))
	g.Expect(r.header.Get("RateLimit-Observed")).To(Equal("3"))
	g.Expect(r.header.Get("RateLimit-Remaining")).To(Equal("0"))
	reset := epoch.Add(time.Minute)
	g.Expect(r.header.Get("RateLimit-Reset")).To(Equal(strconv.FormatInt(reset.Unix(), 10)))
	g.Expect(r.header.Get("RateLimit-ResetTime")).To(Equal(reset.Format(http.TimeFormat)))
	g.Expect(r.header.Get("Retry-After")).To(Equal("45"))
	// Another token has its own budget; the window resets.
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-maint", nil).status).To(Equal(200))
	w.clock.Advance(time.Minute)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(200))

	_, _, err := w.client(t, "tok-dev").Deployments.ListProjectDeployments(1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	w.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultThrottle, Method: http.MethodPut})
	_, _, err = w.client(t, "tok-dev").Deployments.UpdateProjectDeployment(1, 1, &gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusFailed)})
	g.Expect(err).To(MatchError(ContainSubstring("Retry later")))
}

func TestRequestLogCounts(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.create(t, "tok-dev", "production", "main", shaMain, "running")
	w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/1", "tok-dev", nil)
	w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/2", "tok-dev", nil)
	g.Expect(w.RequestCounts()).To(Equal([]gitlabtest.EndpointCount{
		{Endpoint: gitlabtest.EndpointGet, Status: 200, Count: 1},
		{Endpoint: gitlabtest.EndpointGet, Status: 404, Count: 1},
		{Endpoint: gitlabtest.EndpointCreate, Status: 201, Count: 1},
	}))
	g.Expect(w.Requests()[0].Time).To(Equal(epoch))
	w.ResetRequests()
	g.Expect(w.Requests()).To(BeEmpty())
}

func TestConcurrentCreates(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	const clients, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := w.client(t, "tok-dev")
			for range each {
				_, _, err := c.Deployments.CreateProjectDeployment(1, &gitlab.CreateProjectDeploymentOptions{
					Environment: new("env-" + strconv.Itoa(i%4)), Ref: new("main"), SHA: new(shaMain), Tag: new(false),
					Status: new(gitlab.DeploymentStatusRunning)})
				errs <- err
				_, _, _ = c.Deployments.ListProjectDeployments(1, &gitlab.ListProjectDeploymentsOptions{Environment: new("env-1")})
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
	ds, _ := w.Deployments(projectID, "")
	g.Expect(ds).To(HaveLen(clients * each))
	for i, d := range ds {
		g.Expect(d.IID).To(Equal(int64(i + 1)))
	}
}

func TestControlAPI(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	ctl := func(method, path, body string) response {
		var b any
		if body != "" {
			b = body
		}
		return w.do(t, method, "/-/fake"+path, "", b)
	}
	r := ctl(http.MethodPost, "/seed", `{"users":[{"username":"carol"}],"tokens":[{"token":"tok-carol","user":"carol"}]}`)
	g.Expect(r.status).To(Equal(200), r.body)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-carol", nil).status).To(Equal(404))
	r = ctl(http.MethodPost, "/jobs", `{"project":"acme/shop","environment":"production","ref":"main","user":"dev"}`)
	g.Expect(r.status).To(Equal(201), r.body)
	jobID := strconv.Itoa(int(r.json()["id"].(float64)))
	for _, action := range []string{"run", "succeed"} {
		g.Expect(ctl(http.MethodPost, "/jobs/"+jobID+"/"+action, "").status).To(Equal(200))
	}
	r = ctl(http.MethodGet, "/projects/acme%2Fshop/deployments?environment=production", "")
	var ds []gitlabtest.Deployment
	g.Expect(json.Unmarshal([]byte(r.body), &ds)).To(Succeed())
	g.Expect(ds).To(HaveLen(1))
	g.Expect(ds[0].Status).To(Equal("success"))
	g.Expect(ctl(http.MethodPost, "/faults", `{"kind":"error","method":"GET","status":503}`).status).To(Equal(201))
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-dev", nil).status).To(Equal(503))
	g.Expect(ctl(http.MethodDelete, "/faults", "").status).To(Equal(204))
	r = ctl(http.MethodPost, "/clock", `{"advance":"1h"}`)
	g.Expect(r.json()["now"]).To(Equal("2024-05-01T11:00:00Z"))
	r = ctl(http.MethodGet, "/requests/counts", "")
	g.Expect(r.body).To(ContainSubstring(`"endpoint":"GET /projects/:id/deployments","status":503,"count":1`))
	g.Expect(ctl(http.MethodPut, "/rate-limit", `{"limit":1}`).status).To(Equal(200))
	g.Expect(ctl(http.MethodPost, "/jobs/999/run", "").status).To(Equal(404))
	g.Expect(ctl(http.MethodPost, "/seed", `{"bogus":1}`).status).To(Equal(400))
}

func TestCommunityEdition(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, gitlabtest.WithCommunityEdition())
	id := w.create(t, "tok-dev", "production", "main", shaMain, "running")
	r := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/"+strconv.FormatInt(id, 10), "tok-dev", nil)
	g.Expect(r.json()).NotTo(HaveKey("approvals"))
	r = w.do(t, http.MethodPost, "/api/v4/projects/1/deployments/1/approval", "tok-dev", url.Values{"status": {"approved"}})
	expectBody(g, r, 404, `{"error":"404 Not Found"}`)
	g.Expect(strings.Contains(r.body, "Not Found")).To(BeTrue())
}
