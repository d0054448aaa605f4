package gitlab

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// classificationCase is one GitLab answer and how it must be classified.
type classificationCase struct {
	name        string
	status      int
	body        string
	headers     []string
	wantClass   Class
	wantMessage string
	wantError   string
	retryAfter  time.Duration
	notFound    bool
	projectNF   bool
	conflicting bool
}

// classificationCases are GitLab's real error answers (gitlab-api.md §1).
var classificationCases = []classificationCase{
	{name: "400 unknown ref", status: 400, body: `{"message":{"ref":["The branch or tag does not exist"]}}`,
		wantClass: Terminal, wantMessage: "ref: The branch or tag does not exist",
		wantError: "gitlab get deployment: 400 Bad Request: ref: The branch or tag does not exist"},
	{name: "400 unknown commit", status: 400, body: `{"message":{"sha":["The commit does not exist"]}}`,
		wantClass: Terminal, wantMessage: "sha: The commit does not exist"},
	{name: "400 bad environment name", status: 400, body: `{"message":{"name":["is too long (maximum is 255 characters)"]}}`,
		wantClass: Terminal, wantMessage: "name: is too long (maximum is 255 characters)"},
	{name: "400 cannot transition", status: 400, body: `{"message":{"status":["cannot transition via \"run\""]}}`,
		wantClass: Terminal, wantMessage: `status: cannot transition via "run"`, conflicting: true},
	{name: "400 grape validation", status: 400, body: `{"error":"status does not have a valid value"}`,
		wantClass: Terminal, wantMessage: "status does not have a valid value"},
	{name: "400 finder", status: 400, body: "{\"message\":\"400 Bad request - `updated_at` filter requires `updated_at` sort\"}",
		wantClass: Terminal, wantMessage: "400 Bad request - `updated_at` filter requires `updated_at` sort",
		wantError: "gitlab get deployment: 400 Bad request - `updated_at` filter requires `updated_at` sort"},
	{name: "401 unknown token", status: 401, body: `{"message":"401 Unauthorized"}`,
		wantClass: InvalidCredentials, wantMessage: "401 Unauthorized", wantError: "gitlab get deployment: 401 Unauthorized"},
	{name: "401 expired token", status: 401,
		body:      `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`,
		headers:   []string{"WWW-Authenticate", `Bearer realm="", error="invalid_token"`},
		wantClass: InvalidCredentials, wantMessage: "invalid_token: Token is expired. You can either do re-authorization or token refresh."},
	{name: "401 revoked token", status: 401,
		body:      `{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`,
		wantClass: InvalidCredentials, wantMessage: "invalid_token: Token was revoked. You have to re-authorize from the user."},
	{name: "403 forbidden", status: 403, body: `{"message":"403 Forbidden"}`, wantClass: Terminal, wantMessage: "403 Forbidden"},
	{name: "403 CI deployment", status: 403,
		body:      `{"message":"403 Forbidden - Deployments created using GitLab CI can not be updated using the API"}`,
		wantClass: Terminal, wantMessage: "403 Forbidden - Deployments created using GitLab CI can not be updated using the API"},
	{name: "403 insufficient scope", status: 403,
		body:      `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}`,
		wantClass: InvalidCredentials, wantMessage: "insufficient_scope: The request requires higher privileges than provided by the access token."},
	{name: "404 project", status: 404, body: `{"message":"404 Project Not Found"}`,
		wantClass: Terminal, wantMessage: "404 Project Not Found", notFound: true, projectNF: true,
		wantError: "gitlab get deployment: 404 Project Not Found"},
	{name: "404 deployment", status: 404, body: `{"message":"404 Not found"}`,
		wantClass: Terminal, wantMessage: "404 Not found", notFound: true},
	{name: "412", status: 412, body: `{"message":"412 Precondition Failed"}`, wantClass: Terminal, wantMessage: "412 Precondition Failed"},
	{name: "429 Rack::Attack", status: 429, body: "Retry later\n",
		headers: []string{"Content-Type", "text/plain", "Retry-After", "30", "RateLimit-Name", "throttle_authenticated_api",
			"RateLimit-Limit", "600", "RateLimit-Observed", "601", "RateLimit-Remaining", "0"},
		wantClass: Transient, wantMessage: "Retry later", retryAfter: 30 * time.Second,
		wantError: "gitlab get deployment: 429 Too Many Requests: Retry later (retry after 30s)"},
	{name: "429 application limit", status: 429, body: `{"message":"This endpoint has been requested too many times. Try again later."}`,
		headers: []string{"Retry-After", "60"}, wantClass: Transient, retryAfter: time.Minute,
		wantMessage: "This endpoint has been requested too many times. Try again later."},
	{name: "429 without headers", status: 429, body: "Retry later\n", headers: []string{"Content-Type", "text/plain"},
		wantClass: Transient, wantMessage: "Retry later", retryAfter: 5 * time.Second},
	{name: "500", status: 500, body: `{"message":"500 Internal Server Error"}`, wantClass: Transient, wantMessage: "500 Internal Server Error"},
	{name: "502 proxy page", status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
		headers: []string{"Content-Type", "text/html"}, wantClass: Transient, wantMessage: "",
		wantError: "gitlab get deployment: 502 Bad Gateway"},
	{name: "503 with Retry-After", status: 503, body: "", headers: []string{"Retry-After", "120"},
		wantClass: Transient, retryAfter: 2 * time.Minute},
	{name: "501", status: 501, body: `{"message":"501 Not Implemented"}`, wantClass: Terminal, wantMessage: "501 Not Implemented"},
	{name: "redirect", status: 301, body: "", headers: []string{"Location", "https://gitlab.example.com/api/v4/projects/1/deployments/1"},
		wantClass: Terminal, wantMessage: "GitLab redirected the request; set the credentials url to the final address of the GitLab instance"},
	{name: "not GitLab", status: 200, body: "<html>Welcome</html>", headers: []string{"Content-Type", "text/html"},
		wantClass: Terminal, wantMessage: "GitLab answered with an unexpected body; check that the credentials url points at a GitLab instance"},
}

func TestErrorClassification(t *testing.T) {
	for _, tt := range classificationCases {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				reply(w, tt.status, tt.body, tt.headers...)
			})
			cfg := testConfig()
			cfg.RetryMax = -1
			_, err := newClient(t, cfg, srv.URL).GetDeployment(context.Background(), testProject, 42)

			e := asError(g, err)
			g.Expect(e.Class).To(Equal(tt.wantClass), e.Error())
			g.Expect(ClassOf(err)).To(Equal(tt.wantClass))
			g.Expect(e.Op).To(Equal("get deployment"))
			if tt.status != http.StatusOK {
				g.Expect(e.StatusCode).To(Equal(tt.status))
			}
			g.Expect(e.Message).To(Equal(tt.wantMessage))
			if tt.wantError != "" {
				g.Expect(err.Error()).To(Equal(tt.wantError))
			}
			g.Expect(RetryAfter(err)).To(Equal(tt.retryAfter))
			g.Expect(IsNotFound(err)).To(Equal(tt.notFound))
			g.Expect(IsProjectNotFound(err)).To(Equal(tt.projectNF))
			g.Expect(IsConflictingTransition(err)).To(Equal(tt.conflicting))
			g.Expect(err.Error()).NotTo(ContainSubstring(testToken))
			g.Expect(err.Error()).NotTo(ContainSubstring(srv.URL))
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	g := NewWithT(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	_, err := newClient(t, testConfig(), closedURL).GetDeployment(context.Background(), testProject, 42)
	e := asError(g, err)
	g.Expect(e.Class).To(Equal(Transient))
	g.Expect(e.StatusCode).To(BeZero())
	g.Expect(e.Message).To(ContainSubstring("connection refused"))
	var opErr *net.OpError
	g.Expect(errors.As(err, &opErr)).To(BeTrue())
	g.Expect(err.Error()).NotTo(ContainSubstring("/api/v4"))

	slow := newGitLabServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	cfg := testConfig()
	cfg.RequestTimeout = 50 * time.Millisecond
	cfg.RetryMax = 1
	_, err = newClient(t, cfg, slow.URL).GetDeployment(context.Background(), testProject, 42)
	g.Expect(ClassOf(err)).To(Equal(Transient))
	g.Expect(StatusCode(err)).To(BeZero())
	g.Expect(slow.count()).To(Equal(2), "a GET that timed out is retried")
}

func TestUntrustedCertificateIsTerminal(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()

	_, err := newClient(t, testConfig(), srv.URL).GetDeployment(context.Background(), testProject, 42)
	g.Expect(ClassOf(err)).To(Equal(Terminal))
	g.Expect(err.Error()).To(ContainSubstring("ca.crt"))
}

func TestTokenNeverInErrors(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusUnauthorized, `{"message":"token `+testToken+` is not valid"}`)
	})
	_, err := newClient(t, testConfig(), srv.URL).GetDeployment(context.Background(), testProject, 42)
	g.Expect(err.Error()).NotTo(ContainSubstring(testToken))
	g.Expect(err.Error()).To(ContainSubstring("token [redacted] is not valid"))
	g.Expect(srv.last().Token).To(Equal(testToken), "the token travels in the Private-Token header only")
	g.Expect(srv.last().Query).NotTo(HaveKey("private_token"))

	reg := NewRegistry(testConfig())
	for _, url := range []string{
		"https://user:" + testToken + "@gitlab.example.com",
		"https://gitlab.example.com/?private_token=" + testToken,
		"gitlab.example.com/" + testToken,
		"https://gitlab.example.com/%zz" + testToken,
	} {
		_, err := reg.ClientFor(Credentials{URL: url, Token: testToken})
		g.Expect(ClassOf(err)).To(Equal(Terminal), url)
		g.Expect(err.Error()).NotTo(ContainSubstring(testToken))
	}
}

func TestGitLabMessage(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"message":"404 Not found"}`, "404 Not found"},
		{`{"message":{"ref":["a","b"],"name":["c"]}}`, "name: c; ref: a, b"},
		{`{"message":["Comment is too long (maximum is 255 characters)"]}`, "Comment is too long (maximum is 255 characters)"},
		{`{"error":"deployment_id is invalid"}`, "deployment_id is invalid"},
		{`{"error_description":"only a description"}`, "only a description"},
		{"Retry later\n", "Retry later"},
		{"first line\nsecond line", "first line"},
		{"<!DOCTYPE html><html></html>", ""},
		{"", ""},
	}
	for _, tt := range tests {
		NewWithT(t).Expect(gitlabMessage([]byte(tt.body))).To(Equal(tt.want), tt.body)
	}
}

func TestSanitizeBoundsAndCleans(t *testing.T) {
	g := NewWithT(t)
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'x'
	}
	g.Expect([]rune(sanitize(string(long), nil))).To(HaveLen(maxMessageLen + 1))
	g.Expect(sanitize("a\x1b[31mb\r\nc", nil)).To(Equal("a [31mb  c"))
	g.Expect(sanitize("secret-1 and secret-2", newRedactor("secret-1", "", "secret-2"))).To(Equal("[redacted] and [redacted]"))
}

func TestClassString(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Transient.String()).To(Equal("Transient"))
	g.Expect(Terminal.String()).To(Equal("Terminal"))
	g.Expect(InvalidCredentials.String()).To(Equal("InvalidCredentials"))
	g.Expect(ClassOf(errors.New("other"))).To(Equal(Transient))
}
