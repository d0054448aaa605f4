package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// fakeGitLab is the fake GitLab on a loopback port, with a log of the
// deployment writes it answered: which status each set, for which
// environment and commit, and when.
type fakeGitLab struct {
	*gitlabtest.Fake
	URL string
	srv *httptest.Server

	mu     sync.Mutex
	writes []gitLabWrite
}

// gitLabWrite is one POST or PUT of a deployment.
type gitLabWrite struct {
	Time   time.Time
	Method string
	// Status is the deployment status the request set.
	Status string
	// Environment and SHA are those of a POST; a PUT names ID instead.
	Environment, SHA string
	ID               int64
	// Code is the answer's HTTP status.
	Code int
}

// startGitLab serves a fake GitLab with project, writable by the manager's
// user and token (harness.GitLabUser, harness.GitLabToken).
func startGitLab(project string) (*fakeGitLab, error) {
	g := &fakeGitLab{Fake: gitlabtest.NewHandler()}
	if _, err := g.AddUser(gitlabtest.UserSpec{Username: harness.GitLabUser, Name: "rollgate"}); err != nil {
		return nil, err
	}
	if err := g.AddToken(gitlabtest.TokenSpec{Token: harness.GitLabToken, User: harness.GitLabUser, Scopes: []string{"api"}}); err != nil {
		return nil, err
	}
	if _, err := g.AddProject(gitlabtest.ProjectSpec{
		Path: project, AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{harness.GitLabUser: gitlabtest.Maintainer},
	}); err != nil {
		return nil, err
	}
	g.srv = httptest.NewUnstartedServer(g)
	g.srv.Config.ReadHeaderTimeout = 10 * time.Second
	g.srv.Start()
	g.URL = g.srv.URL
	return g, nil
}

// Close stops the server.
func (g *fakeGitLab) Close() {
	g.srv.CloseClientConnections()
	g.srv.Close()
	g.Fake.Close()
}

// ServeHTTP serves the fake and logs the deployment writes.
func (g *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isWrite := (r.Method == http.MethodPost || r.Method == http.MethodPut) &&
		strings.Contains(r.URL.Path, "/deployments")
	if !isWrite {
		g.Fake.ServeHTTP(w, r)
		return
	}
	wr := gitLabWrite{Time: time.Now(), Method: r.Method}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	fields := writeFields(r.Header.Get("Content-Type"), body)
	wr.Status, wr.Environment, wr.SHA = fields["status"], fields["environment"], fields["sha"]
	if r.Method == http.MethodPut {
		last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		wr.ID, _ = strconv.ParseInt(last, 10, 64)
	}
	rec := &codeRecorder{ResponseWriter: w}
	g.Fake.ServeHTTP(rec, r)
	wr.Code = rec.code
	g.mu.Lock()
	g.writes = append(g.writes, wr)
	g.mu.Unlock()
}

// Writes returns the deployment writes logged so far, oldest first.
func (g *fakeGitLab) Writes() []gitLabWrite {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gitLabWrite(nil), g.writes...)
}

// writeFields reads the string fields of a JSON or form request body.
func writeFields(contentType string, body []byte) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(contentType, "application/json") {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					out[k] = s
				}
			}
		}
		return out
	}
	if q, err := url.ParseQuery(string(body)); err == nil {
		for k := range q {
			out[k] = q.Get(k)
		}
	}
	return out
}

// codeRecorder captures the status code a handler writes.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Flush lets streamed answers through.
func (c *codeRecorder) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
