package harness

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// GitLab user and token the manager authenticates as.
const (
	GitLabUser  = "rollgate"
	GitLabToken = "glpat-rollgate-e2e" //nolint:gosec // a token of the fake GitLab only
)

// holdLimit bounds how long a held response waits for its client to go away.
const holdLimit = time.Minute

// GitLab is the fake GitLab on a loopback port. It can hold back the
// response to a deployment POST after serving it, so that GitLab has the
// record while its creator never learns of it: the crash window between a
// POST and the status write that follows it.
type GitLab struct {
	*gitlabtest.Fake
	// URL is the base URL, e.g. http://127.0.0.1:34567.
	URL string

	srv        *httptest.Server
	mu         sync.Mutex
	held       map[string]chan struct{} // request path → closed once served
	userAgents map[string]bool
}

// StartGitLab serves a fake GitLab with a maintainer GitLabUser holding
// GitLabToken.
func StartGitLab() (*GitLab, error) {
	g := &GitLab{Fake: gitlabtest.NewHandler(), held: map[string]chan struct{}{}, userAgents: map[string]bool{}}
	g.srv = httptest.NewUnstartedServer(g)
	g.srv.Config.ReadHeaderTimeout = 10 * time.Second
	g.srv.Start()
	g.URL = g.srv.URL
	if _, err := g.AddUser(gitlabtest.UserSpec{Username: GitLabUser, Name: "rollgate"}); err != nil {
		g.Close()
		return nil, err
	}
	if err := g.AddToken(gitlabtest.TokenSpec{Token: GitLabToken, User: GitLabUser, Scopes: []string{"api"}}); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Close stops the server.
func (g *GitLab) Close() {
	g.srv.CloseClientConnections()
	g.srv.Close()
	g.Fake.Close()
}

// AddProject adds a project at path that accepts any commit and ref, with
// GitLabUser as maintainer.
func (g *GitLab) AddProject(path string) error {
	_, err := g.Fake.AddProject(gitlabtest.ProjectSpec{
		Path: path, AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{GitLabUser: gitlabtest.Maintainer},
	})
	return err
}

// HoldCreate arms the next deployment POST to project: GitLab creates the
// deployment, then the response is withheld until the client goes away
// (or a minute passes). The returned channel is closed once the deployment
// was created.
func (g *GitLab) HoldCreate(project string) <-chan struct{} {
	ch := make(chan struct{})
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held[projectPath(project)+"/deployments"] = ch
	return ch
}

// ServeHTTP serves the fake, holding back armed responses.
func (g *GitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var served chan struct{}
	g.mu.Lock()
	g.userAgents[r.UserAgent()] = true
	if r.Method == http.MethodPost {
		served = g.held[r.URL.EscapedPath()]
		delete(g.held, r.URL.EscapedPath())
	}
	g.mu.Unlock()
	if served == nil {
		g.Fake.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	g.Fake.ServeHTTP(rec, r)
	close(served)
	select {
	case <-r.Context().Done():
		return
	case <-time.After(holdLimit):
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// UserAgents returns the User-Agent headers of the requests served so far.
func (g *GitLab) UserAgents() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.userAgents))
}

// Traffic counts the REST requests about one project's deployments.
type Traffic struct {
	Posts, Puts, Gets, Other int
	// Log lists the requests as "METHOD path?query -> status".
	Log []string
}

// Writes is the number of POST and PUT requests.
func (t Traffic) Writes() int { return t.Posts + t.Puts }

// Total is the number of requests.
func (t Traffic) Total() int { return t.Posts + t.Puts + t.Gets + t.Other }

// String is for failure messages.
func (t Traffic) String() string {
	return fmt.Sprintf("%d POST, %d PUT, %d GET, %d other:\n\t%s",
		t.Posts, t.Puts, t.Gets, t.Other, strings.Join(t.Log, "\n\t"))
}

// Traffic counts the requests the fake has logged for project (a full
// path), optionally only those since a time.
func (g *GitLab) Traffic(project string, since time.Time) Traffic {
	prefix := projectPath(project) + "/"
	var t Traffic
	for _, req := range g.Requests() {
		if !strings.HasPrefix(req.Path+"/", prefix) || req.Time.Before(since) {
			continue
		}
		t.Log = append(t.Log, fmt.Sprintf("%s %s %s?%s -> %d", req.Time.Format("15:04:05.000"),
			req.Method, req.Path, req.Query, req.Status))
		switch req.Method {
		case http.MethodPost:
			t.Posts++
		case http.MethodPut:
			t.Puts++
		case http.MethodGet:
			t.Gets++
		default:
			t.Other++
		}
	}
	return t
}

// projectPath is the escaped REST path of a project given by full path.
func projectPath(project string) string {
	return "/api/v4/projects/" + url.PathEscape(project)
}
