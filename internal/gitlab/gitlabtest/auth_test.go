package gitlabtest_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
	"golang.org/x/oauth2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func authWorld(t *testing.T) *world {
	w := newWorld(t)
	err := w.Seed(gitlabtest.Seed{
		Projects: []gitlabtest.ProjectSpec{{Path: "acme/ci", ID: 2, Members: map[string]gitlabtest.AccessLevel{"dev": gitlabtest.Developer}}},
		Tokens: []gitlabtest.TokenSpec{
			{Token: "tok-ro", User: "dev", Scopes: []string{"read_api"}},
			{Token: "tok-user-only", User: "dev", Scopes: []string{"read_user"}},
			{Token: "tok-expired", User: "dev", ExpiresAt: epoch.Add(-time.Hour)},
			{Token: "tok-revoked", User: "dev", Revoked: true},
			{Token: "oauth-dev", User: "dev", Kind: gitlabtest.OAuthToken},
			{Token: "job-shop", User: "dev", Kind: gitlabtest.JobToken, Project: "acme/shop"},
			{Token: "job-ci", User: "dev", Kind: gitlabtest.JobToken, Project: "acme/ci"},
			{Token: "tok-admin-sudo", User: "admin", Scopes: []string{"api", "sudo"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestAuthMatrix(t *testing.T) {
	w := authWorld(t)
	list := "/api/v4/projects/1/deployments"
	post := url.Values{"environment": {"production"}, "ref": {"main"}, "sha": {shaMain}, "tag": {"false"}, "status": {"running"}}
	cases := []struct {
		name         string
		method, path string
		headers      []string
		body         any
		status       int
		want         string
	}{
		{"anonymous", "GET", list, nil, nil, 401, `{"message":"401 Unauthorized"}`},
		{"unknown token", "GET", list, []string{"PRIVATE-TOKEN", "nope"}, nil, 401, `{"message":"401 Unauthorized"}`},
		{"private_token param", "GET", list + "?private_token=tok-dev", nil, nil, 200, `[]`},
		{"bearer pat", "GET", list, []string{"Authorization", "Bearer tok-dev"}, nil, 200, `[]`},
		{"bearer oauth", "GET", list, []string{"Authorization", "Bearer oauth-dev"}, nil, 200, `[]`},
		{"oauth as private token", "GET", list, []string{"PRIVATE-TOKEN", "oauth-dev"}, nil, 401, `{"message":"401 Unauthorized"}`},
		{"expired", "GET", list, []string{"PRIVATE-TOKEN", "tok-expired"}, nil, 401,
			`{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`},
		{"revoked", "GET", list, []string{"PRIVATE-TOKEN", "tok-revoked"}, nil, 401,
			`{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`},
		{"read_api read", "GET", list, []string{"PRIVATE-TOKEN", "tok-ro"}, nil, 200, `[]`},
		{"read_api write", "POST", list, []string{"PRIVATE-TOKEN", "tok-ro"}, post, 403,
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}`},
		{"read_user read", "GET", list, []string{"PRIVATE-TOKEN", "tok-user-only"}, nil, 403,
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}`},
		{"job token header", "GET", list, []string{"JOB-TOKEN", "job-shop"}, nil, 200, `[]`},
		{"job token param", "GET", list + "?job_token=job-shop", nil, nil, 200, `[]`},
		{"job token other project", "GET", list, []string{"JOB-TOKEN", "job-ci"}, nil, 403,
			`{"message":"403 Forbidden - Authentication by CI/CD job token not allowed from ci to shop."}`},
		{"sudo non admin", "GET", list, []string{"PRIVATE-TOKEN", "tok-dev", "Sudo", "maint"}, nil, 403, `{"message":"403 Forbidden - Must be admin to use sudo"}`},
		{"sudo without scope", "GET", list, []string{"PRIVATE-TOKEN", "tok-admin", "Sudo", "maint"}, nil, 403,
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"sudo"}`},
		{"sudo unknown user", "GET", list, []string{"PRIVATE-TOKEN", "tok-admin-sudo", "Sudo", "ghost"}, nil, 404, `{"message":"404 User with ID or username 'ghost' Not Found"}`},
		{"sudo as outsider", "GET", list, []string{"PRIVATE-TOKEN", "tok-admin-sudo", "Sudo", "outsider"}, nil, 404, `{"message":"404 Project Not Found"}`},
		{"auth before validation", "GET", list + "?order_by=bogus", nil, nil, 401, `{"message":"401 Unauthorized"}`},
		{"validation before project", "GET", "/api/v4/projects/99/deployments?order_by=bogus", []string{"PRIVATE-TOKEN", "tok-dev"}, nil, 400,
			`{"error":"order_by does not have a valid value"}`},
		{"unknown route", "GET", "/api/v4/projects/1/deployment", []string{"PRIVATE-TOKEN", "tok-dev"}, nil, 404, `{"error":"404 Not Found"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := w.do(t, tc.method, tc.path, "", tc.body, tc.headers...)
			expectBody(g, r, tc.status, tc.want)
			if tc.name == "expired" {
				g.Expect(r.header.Get("WWW-Authenticate")).To(HavePrefix(`Bearer realm="Protected by OAuth 2.0", error="invalid_token"`))
			}
		})
	}
}

func TestJobTokenAllowlistPolicies(t *testing.T) {
	g := NewWithT(t)
	w := authWorld(t)
	g.Expect(w.Seed(gitlabtest.Seed{Projects: []gitlabtest.ProjectSpec{{Path: "acme/api", ID: 3,
		Members:           map[string]gitlabtest.AccessLevel{"dev": gitlabtest.Developer},
		JobTokenAllowlist: []gitlabtest.JobTokenAccess{{Project: "acme/ci", Policies: []string{"read_deployments"}}}}}})).To(Succeed())
	r := w.do(t, http.MethodGet, "/api/v4/projects/3/deployments", "", nil, "JOB-TOKEN", "job-ci")
	g.Expect(r.status).To(Equal(200))
	r = w.do(t, http.MethodPost, "/api/v4/projects/3/deployments", "", url.Values{
		"environment": {"production"}, "ref": {"main"}, "sha": {shaMain}, "tag": {"false"}, "status": {"running"}}, "JOB-TOKEN", "job-ci")
	expectBody(g, r, 403, `{"message":"403 Forbidden - Insufficient permissions to access this resource in project api. The following token permissions are required: admin_deployments and admin_environments."}`)
}

func TestClientConstructors(t *testing.T) {
	g := NewWithT(t)
	w := authWorld(t)
	job, err := gitlab.NewJobClient("job-shop", gitlab.WithBaseURL(w.APIURL()), gitlab.WithoutRetries())
	g.Expect(err).NotTo(HaveOccurred())
	_, _, err = job.Deployments.ListProjectDeployments(1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "oauth-dev"})
	oc, err := gitlab.NewAuthSourceClient(gitlab.OAuthTokenSource{TokenSource: ts}, gitlab.WithBaseURL(w.APIURL()), gitlab.WithoutRetries())
	g.Expect(err).NotTo(HaveOccurred())
	_, _, err = oc.Deployments.ListProjectDeployments("acme/shop", nil, gitlab.WithContext(context.Background()))
	g.Expect(err).NotTo(HaveOccurred())
}

func TestPublicProjectReadable(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	g.Expect(w.Seed(gitlabtest.Seed{Projects: []gitlabtest.ProjectSpec{{Path: "oss/lib", ID: 5, Visibility: gitlabtest.Public, AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{"dev": gitlabtest.Developer}}}})).To(Succeed())
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/oss%2Flib/deployments", "tok-outsider", nil).status).To(Equal(200))
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/oss%2Flib/deployments", "", nil), 401, `{"message":"401 Unauthorized"}`)
	r := w.do(t, http.MethodPost, "/api/v4/projects/5/deployments", "tok-dev", url.Values{
		"environment": {"prod"}, "ref": {"feature/anything"}, "sha": {"abcdef0123456789abcdef0123456789abcdef01"}, "tag": {"false"}, "status": {"success"}})
	g.Expect(r.status).To(Equal(201), r.body)
	expectBody(g, w.do(t, http.MethodPost, "/api/v4/projects/5/deployments", "tok-outsider", url.Values{
		"environment": {"prod"}, "ref": {"main"}, "sha": {shaMain}, "tag": {"false"}, "status": {"success"}}), 403, `{"message":"403 Forbidden"}`)
}
