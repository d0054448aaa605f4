package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rollgate/rollgate/internal/process"
)

// The GitLab world the demo seeds: one project, the token rollgate records
// with, and the approver who approves production.
const (
	projectPath   = "demo/hello"
	projectID     = 1
	rollgateUser  = "rollgate"
	rollgateToken = "glpat-rollgate-demo" //nolint:gosec // a credential of the demo's fake GitLab
	approverUser  = "alice"
	approverToken = "glpat-alice-demo" //nolint:gosec // a credential of the demo's fake GitLab
	envStaging    = "staging"
	envProduction = "production"
	ref           = "main"
	// shaV1 is the commit staging and production deploy; shaV2 is the
	// broken release. shaV0 is the commit before shaV1.
	shaV0 = "1d0c5e8f2a3b4c5d6e7f8091a2b3c4d5e6f70819"
	shaV1 = "3f2a1b9c0d4e5f60718293a4b5c6d7e8f9012345"
	shaV2 = "9c4e7d21a0b3c5d6e7f8091a2b3c4d5e6f708192"
	// productionURL is where GitLab's "Open" button of production leads.
	productionURL = "https://hello.example.com"
)

// GitLab's approval statuses.
const (
	statusApproved = "approved"
	statusRejected = "rejected"
)

// seedYAML is the fake GitLab's seed: production is a protected environment
// whose deployments need one approval from alice; staging is unprotected.
var seedYAML = fmt.Sprintf(`users:
  - {username: %[1]s, name: rollgate}
  - {username: %[2]s, name: Alice Approver}
projects:
  - path: %[3]s
    id: %[4]d
    default_branch: %[5]s
    commits:
      - {sha: "%[11]s", title: "Serve the greeting page"}
      - {sha: "%[6]s", title: "Say hello"}
      - {sha: "%[7]s", title: "Say hello louder"}
    history: {%[5]s: ["%[11]s", "%[6]s", "%[7]s"]}   # %[5]s points at the last one
    members: {%[1]s: maintainer, %[2]s: developer}
tokens:
  - {token: %[8]s, user: %[1]s, scopes: [api]}
  - {token: %[9]s, user: %[2]s, scopes: [api]}
protected_environments:
  - project: %[3]s
    name: %[10]s
    deploy_access_levels: [{access_level: maintainer}]
    approval_rules: [{user: %[2]s, required_approvals: 1}]
merge_requests:
  - {project: %[3]s, title: "Serve the greeting page", source_branch: page, target_branch: %[5]s,
     merge_commit_sha: "%[11]s"}
  - {project: %[3]s, title: "Say hello", source_branch: hello, target_branch: %[5]s, merge_commit_sha: "%[6]s"}
`, rollgateUser, approverUser, projectPath, projectID, ref, shaV1, shaV2,
	rollgateToken, approverToken, envProduction, shaV0)

// fakeGitLab is the running fake GitLab and a client of its REST API.
type fakeGitLab struct {
	proc *process.Process
	url  string
	http *http.Client
}

// listenLine is how fake-gitlab announces its address.
var listenLine = regexp.MustCompile(`fake GitLab listening on (http://\S+)`)

// startFakeGitLab runs the fake-gitlab binary on a free loopback port,
// seeded with seedYAML, and waits until it serves.
func startFakeGitLab(ctx context.Context, bin, dir string) (*fakeGitLab, error) {
	seed := filepath.Join(dir, "gitlab-seed.yaml")
	if err := os.WriteFile(seed, []byte(seedYAML), 0o600); err != nil {
		return nil, fmt.Errorf("writing the GitLab seed: %w", err)
	}
	proc, err := process.Start(ctx, process.Options{
		Dir: dir, Name: "fake-gitlab", Path: bin, Args: []string{"--listen", "127.0.0.1:0", "--seed", seed},
	})
	if err != nil {
		return nil, err
	}
	g := &fakeGitLab{proc: proc, http: &http.Client{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = proc.WaitFor(ctx, "listening", func(context.Context) bool {
		log, _ := os.ReadFile(proc.LogPath()) // not yet written: keep waiting
		if m := listenLine.FindSubmatch(log); m != nil {
			g.url = string(m[1])
		}
		return g.url != ""
	})
	if err != nil {
		_ = proc.Stop()
		return nil, err
	}
	return g, nil
}

// deployment is what the demo reads of a GitLab deployment.
type deployment struct {
	ID          int64  `json:"id"`
	IID         int64  `json:"iid"`
	Ref         string `json:"ref"`
	SHA         string `json:"sha"`
	Status      string `json:"status"`
	Environment struct {
		Name string `json:"name"`
	} `json:"environment"`
	// PendingApprovalCount is only in the answer for one deployment.
	PendingApprovalCount int `json:"pending_approval_count,omitempty"`
}

// deploymentsPath is the REST path listing the project's deployments.
func deploymentsPath() string {
	return fmt.Sprintf("/api/v4/projects/%d/deployments", projectID)
}

// approvalPath is the REST path approving or rejecting deployment id.
func approvalPath(id int64) string {
	return fmt.Sprintf("/api/v4/projects/%d/deployments/%d/approval", projectID, id)
}

// deployments lists the project's deployments, oldest first, through
// GitLab's REST API (GET /projects/:id/deployments).
func (g *fakeGitLab) deployments(ctx context.Context) ([]deployment, error) {
	var out []deployment
	err := g.do(ctx, http.MethodGet, deploymentsPath()+"?order_by=id&sort=asc&per_page=100", rollgateToken, nil, &out)
	return out, err
}

// deployment reads one deployment (GET /projects/:id/deployments/:id), which,
// unlike the list, carries its approvals.
func (g *fakeGitLab) deployment(ctx context.Context, id int64) (deployment, error) {
	var out deployment
	err := g.do(ctx, http.MethodGet, fmt.Sprintf("%s/%d", deploymentsPath(), id), rollgateToken, nil, &out)
	return out, err
}

// approve approves or rejects deployment id as the approver, exactly as the
// curl command the demo prints does.
func (g *fakeGitLab) approve(ctx context.Context, id int64, status, comment string) error {
	form := url.Values{"status": {status}, "comment": {comment}}
	return g.do(ctx, http.MethodPost, approvalPath(id), approverToken, strings.NewReader(form.Encode()), nil)
}

// approveCommand is the curl command that approves or rejects (status)
// deployment id as the approver, with a comment.
func (g *fakeGitLab) approveCommand(id int64, status, comment string) string {
	return fmt.Sprintf(`curl -X POST -H "PRIVATE-TOKEN: %s" -d status=%s -d comment=%q %s%s`,
		approverToken, status, comment, g.url, approvalPath(id))
}

// gitlabEnvironment is what the demo reads of a GitLab environment.
type gitlabEnvironment struct {
	Name        string `json:"name"`
	Tier        string `json:"tier"`
	ExternalURL string `json:"external_url"`
}

// environment reads the environment of that name through GitLab's REST API
// (GET /projects/:id/environments?name=).
func (g *fakeGitLab) environment(ctx context.Context, name string) (*gitlabEnvironment, error) {
	var out []gitlabEnvironment
	path := fmt.Sprintf("/api/v4/projects/%d/environments?name=%s", projectID, url.QueryEscape(name))
	if err := g.do(ctx, http.MethodGet, path, rollgateToken, nil, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GitLab has no environment %q", name)
	}
	return &out[0], nil
}

// do sends one REST request and decodes a JSON answer into out.
func (g *fakeGitLab) do(ctx context.Context, method, path, token string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, g.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("PRIVATE-TOKEN", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("GitLab %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GitLab %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("GitLab %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
