package gitlabtest_test

import (
	"context"
	"crypto/md5" //nolint:gosec // Gravatar uses MD5.
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

const (
	shaMain    = "1111111111111111111111111111111111111111"
	shaRelease = "2222222222222222222222222222222222222222"
	shaOld     = "3333333333333333333333333333333333333333"
	projectID  = "1"
	projectEnc = "acme%2Fshop"
)

var epoch = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// world is a seeded fake with the standard cast of users.
type world struct {
	*gitlabtest.Server
	clock *gitlabtest.FakeClock
}

// standardSeed: project acme/shop (ID 1, private) with a member of every
// role, an admin, a non-member, and one api token each.
func standardSeed() gitlabtest.Seed {
	users := []string{"owner", "maint", "dev", "reporter", "guest", "outsider", "admin"}
	s := gitlabtest.Seed{}
	for _, u := range users {
		s.Users = append(s.Users, gitlabtest.UserSpec{Username: u, Admin: u == "admin"})
		s.Tokens = append(s.Tokens, gitlabtest.TokenSpec{Token: "tok-" + u, User: u})
	}
	s.Projects = []gitlabtest.ProjectSpec{{
		ID: 1, Path: "acme/shop",
		Branches: map[string]string{"main": shaMain, "release": shaRelease},
		Tags:     map[string]string{"v1.0.0": shaRelease},
		Commits:  []gitlabtest.CommitSpec{{SHA: shaOld, Title: "Old commit"}},
		Members: map[string]gitlabtest.AccessLevel{"owner": gitlabtest.Owner, "maint": gitlabtest.Maintainer,
			"dev": gitlabtest.Developer, "reporter": gitlabtest.Reporter, "guest": gitlabtest.Guest},
	}}
	return s
}

func newWorld(t *testing.T, opts ...gitlabtest.Option) *world {
	t.Helper()
	clock := gitlabtest.NewFakeClock(epoch)
	srv := gitlabtest.NewServer(append([]gitlabtest.Option{gitlabtest.WithClock(clock)}, opts...)...)
	t.Cleanup(srv.Close)
	if err := srv.Seed(standardSeed()); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	return &world{Server: srv, clock: clock}
}

func (w *world) client(t *testing.T, token string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewClient(token, gitlab.WithBaseURL(w.APIURL()), gitlab.WithoutRetries())
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// response is a raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(r.body), &m)
	return m
}

func (r response) list() []map[string]any {
	var l []map[string]any
	_ = json.Unmarshal([]byte(r.body), &l)
	return l
}

// do sends a raw request; body values are form-encoded unless body is a
// string (sent as JSON).
func (w *world) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, w.URL+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// create posts a deployment as a raw form request and returns its ID.
func (w *world) create(t *testing.T, token, env, ref, sha, status string) int64 {
	t.Helper()
	r := w.do(t, http.MethodPost, "/api/v4/projects/1/deployments", token, url.Values{
		"environment": {env}, "ref": {ref}, "sha": {sha}, "tag": {"false"}, "status": {status}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return int64(r.json()["id"].(float64))
}

func gravatar(email string) string {
	sum := md5.Sum([]byte(email)) //nolint:gosec // Gravatar uses MD5.
	return hex.EncodeToString(sum[:])
}

func expectBody(g Gomega, r response, status int, body string) {
	g.ExpectWithOffset(1, r.status).To(Equal(status), r.body)
	g.ExpectWithOffset(1, r.body).To(MatchJSON(body))
}
