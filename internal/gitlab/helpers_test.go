package gitlab

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

const (
	testToken   = "glpat-S3cr3tT0k3nValue"
	testProject = "group/app"
	testSHA     = "a91957a858320c0e17f3a0eca7cfacbff50ea29a"
)

// seenRequest is what a test server saw of one request.
type seenRequest struct {
	Method string
	Path   string // escaped
	Query  map[string][]string
	Token  string
	Body   string
}

// gitlabServer is an httptest server that counts and records requests and
// answers through handle.
type gitlabServer struct {
	*httptest.Server
	hits atomic.Int64

	mu   sync.Mutex
	seen []seenRequest
}

// newGitLabServer starts a server answering with handle; n is the 1-based
// number of the request.
func newGitLabServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *gitlabServer {
	t.Helper()
	s := &gitlabServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.hits.Add(1))
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, seenRequest{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
			Token: r.Header.Get("Private-Token"), Body: string(body),
		})
		s.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gitlabServer) count() int { return int(s.hits.Load()) }

func (s *gitlabServer) last() seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1]
}

// reply writes a GitLab-style response.
func reply(w http.ResponseWriter, status int, body string, headers ...string) {
	w.Header().Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// testConfig is a Config with fast retries and no client-side limit.
func testConfig() Config {
	return Config{
		QPS:            -1,
		RequestTimeout: 2 * time.Second,
		RetryMax:       2,
		RetryWaitMin:   time.Millisecond,
		RetryWaitMax:   2 * time.Millisecond,
	}
}

// newClient returns a client of a new registry for url.
func newClient(t *testing.T, cfg Config, url string) Client {
	t.Helper()
	c, err := NewRegistry(cfg).ClientFor(Credentials{URL: url, Token: testToken})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

// asError extracts the *Error from err.
func asError(g Gomega, err error) *Error {
	e, ok := errors.AsType[*Error](err)
	g.ExpectWithOffset(1, ok).To(BeTrue(), "want *Error, got %T: %v", err, err)
	return e
}

// apiDeploymentJSON is GitLab's DeploymentExtended for a deployment created
// through the API on an unprotected environment (CE shape plus the EE keys).
const apiDeploymentJSON = `{
  "id": 42,
  "iid": 7,
  "ref": "main",
  "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
  "created_at": "2026-03-02T10:00:00.123Z",
  "updated_at": "2026-03-02T10:00:00.123Z",
  "status": "running",
  "user": {"id": 3, "username": "rollgate-bot", "name": "Rollgate", "state": "active", "locked": false,
           "avatar_url": "https://gitlab.example.com/uploads/a.png", "web_url": "https://gitlab.example.com/rollgate-bot"},
  "environment": {"id": 9, "name": "production", "slug": "production", "external_url": null,
                  "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-03-02T10:00:00.123Z"},
  "deployable": null,
  "pending_approval_count": 0,
  "approvals": [],
  "approval_summary": {"rules": []}
}`

// blockedDeploymentJSON is GitLab's DeploymentExtended for a CI job
// deployment waiting for approval on a protected environment: one group
// rule requiring two approvals, one given.
const blockedDeploymentJSON = `{
  "id": 51,
  "iid": 12,
  "ref": "main",
  "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
  "created_at": "2026-03-02T09:58:00.000Z",
  "updated_at": "2026-03-02T09:59:30.000Z",
  "status": "blocked",
  "user": {"id": 8, "username": "dev", "name": "Dev", "state": "active", "avatar_url": "", "web_url": "https://gitlab.example.com/dev"},
  "environment": {"id": 9, "name": "production", "slug": "production", "external_url": "https://app.example.com",
                  "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-03-02T09:58:00.000Z"},
  "deployable": {
    "id": 1001, "status": "manual", "stage": "deploy", "name": "deploy-production", "ref": "main", "tag": false,
    "coverage": null, "allow_failure": false, "created_at": "2026-03-02T09:58:00.000Z", "started_at": null,
    "finished_at": null, "duration": null, "queued_duration": null,
    "user": {"id": 8, "username": "dev", "name": "Dev", "state": "active", "avatar_url": "", "web_url": "https://gitlab.example.com/dev"},
    "commit": {"id": "a91957a858320c0e17f3a0eca7cfacbff50ea29a", "short_id": "a91957a8", "title": "Ship it"},
    "pipeline": {"id": 501, "iid": 30, "project_id": 3, "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
                 "ref": "main", "status": "manual", "source": "push", "web_url": "https://gitlab.example.com/group/app/-/pipelines/501"},
    "web_url": "https://gitlab.example.com/group/app/-/jobs/1001",
    "artifacts": [],
    "runner": null
  },
  "pending_approval_count": 1,
  "approvals": [
    {"user": {"id": 5, "username": "alice", "name": "Alice", "state": "active", "avatar_url": "", "web_url": "https://gitlab.example.com/alice"},
     "status": "approved", "created_at": "2026-03-02T09:59:30.000Z", "comment": "LGTM"}
  ],
  "approval_summary": {
    "rules": [
      {"id": 3, "user_id": null, "group_id": 12, "access_level": null, "access_level_description": "security",
       "required_approvals": 2, "group_inheritance_type": 0,
       "deployment_approvals": [
         {"user": {"id": 5, "username": "alice", "name": "Alice", "state": "active", "avatar_url": "", "web_url": "https://gitlab.example.com/alice"},
          "status": "approved", "created_at": "2026-03-02T09:59:30.000Z", "comment": "LGTM"}
       ]}
    ]
  }
}`
