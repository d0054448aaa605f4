package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// envFake is a fake GitLab with project group/app (ID 3), a developer
// whose token is testToken, a reporter ("rep-token"), the agent
// "prod-agent" (ID 7) and the environment "production" with an external
// URL and a description someone set in GitLab.
func envFake(t *testing.T) *gitlabtest.Server {
	t.Helper()
	g := NewWithT(t)
	srv := gitlabtest.NewServer(gitlabtest.WithAcceptAnySHA())
	t.Cleanup(srv.Close)
	seed, err := gitlabtest.ParseSeed([]byte(fmt.Sprintf(`
users: [{username: dev}, {username: rep}]
projects:
  - {path: group/app, id: 3, members: {dev: developer, rep: reporter}, branches: {main: %q}}
tokens:
  - {token: %q, user: dev}
  - {token: rep-token, user: rep}
cluster_agents:
  - {project: group/app, name: prod-agent, id: 7}
environments:
  - {project: group/app, name: production, external_url: "https://app.example.com", description: "Set by hand"}
`, testSHA, testToken)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.Seed(seed)).To(Succeed())
	return srv
}

func TestGetEnvironmentByName(t *testing.T) {
	g := NewWithT(t)
	srv := envFake(t)
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()

	e, err := c.GetEnvironmentByName(ctx, testProject, "production")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e).NotTo(BeNil())
	g.Expect(e.ID).To(Equal(int64(1)))
	g.Expect(e.Tier).To(Equal(TierProduction))
	g.Expect(e.ExternalURL).To(Equal("https://app.example.com"))
	g.Expect(e.Description).To(Equal("Set by hand"))
	g.Expect(e.State).To(Equal("available"))
	g.Expect(e.ClusterAgent).To(BeNil())
	g.Expect(srv.Requests()[0].Query).To(ContainSubstring("name=production"))

	missing, err := c.GetEnvironmentByName(ctx, testProject, "prod") // not a prefix match
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(missing).To(BeNil())

	_, err = c.GetEnvironmentByName(ctx, "group/nope", "production")
	g.Expect(IsProjectNotFound(err)).To(BeTrue())
	_, err = c.GetEnvironmentByName(ctx, testProject, "")
	g.Expect(ClassOf(err)).To(Equal(Terminal))
}

func TestEditEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Run("only the fields given change", func(t *testing.T) {
		g := NewWithT(t)
		srv := envFake(t)
		c := newClient(t, testConfig(), srv.URL)
		e, err := c.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{
			Tier: new(TierStaging), ClusterAgentID: new(int64(7)), KubernetesNamespace: new("shop"),
			FluxResourcePath: new("helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop"),
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(e.Tier).To(Equal(TierStaging))
		g.Expect(e.ClusterAgent).To(Equal(&Agent{ID: 7, Name: "prod-agent", ConfigProject: testProject}))
		g.Expect(e.KubernetesNamespace).To(Equal("shop"))
		g.Expect(e.FluxResourcePath).To(Equal("helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop"))
		g.Expect(e.ExternalURL).To(Equal("https://app.example.com"))
		g.Expect(e.Description).To(Equal("Set by hand"))

		// A reporter's token does not see the agent fields.
		rep, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: "rep-token"})
		g.Expect(err).NotTo(HaveOccurred())
		seen, err := rep.GetEnvironmentByName(ctx, testProject, "production")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(seen.ClusterAgent).To(BeNil())
		g.Expect(seen.KubernetesNamespace).To(BeEmpty())
		g.Expect(seen.Tier).To(Equal(TierStaging))

		// A blank string clears a value.
		e, err = c.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{ExternalURL: new("")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(e.ExternalURL).To(BeEmpty())
	})
	t.Run("the request body holds only the fields set", func(t *testing.T) {
		g := NewWithT(t)
		srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			reply(w, http.StatusOK, `{"id": 1, "name": "production", "tier": "production"}`)
		})
		c := newClient(t, testConfig(), srv.URL)
		_, err := c.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{Tier: new(TierProduction)})
		g.Expect(err).NotTo(HaveOccurred())
		req := srv.last()
		g.Expect(req.Method).To(Equal(http.MethodPut))
		g.Expect(req.Path).To(Equal("/api/v4/projects/group%2Fapp/environments/1"))
		var body map[string]any
		g.Expect(json.Unmarshal([]byte(req.Body), &body)).To(Succeed())
		g.Expect(body).To(Equal(map[string]any{"tier": "production"}))

		_, err = c.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{})
		g.Expect(ClassOf(err)).To(Equal(Terminal))
		g.Expect(srv.count()).To(Equal(1))
	})
	t.Run("errors", func(t *testing.T) {
		g := NewWithT(t)
		srv := envFake(t)
		c := newClient(t, testConfig(), srv.URL)
		for _, tc := range []struct {
			edit    EnvironmentEdit
			status  int
			message string
		}{
			{EnvironmentEdit{ClusterAgentID: new(int64(99))}, 400, "cluster agent doesn't exist or cannot be associated with this environment"},
			{EnvironmentEdit{KubernetesNamespace: new("shop")}, 400, "kubernetes_namespace: cannot be set without a cluster agent"},
			{EnvironmentEdit{Tier: new("prod")}, 400, "tier does not have a valid value"},
			{EnvironmentEdit{ExternalURL: new("javascript:alert(1)")}, 400, "external_url: javascript scheme is not allowed"},
		} {
			_, err := c.EditEnvironment(ctx, testProject, 1, tc.edit)
			e := asError(g, err)
			g.Expect(e.Class).To(Equal(Terminal))
			g.Expect(e.StatusCode).To(Equal(tc.status))
			g.Expect(e.Message).To(ContainSubstring(tc.message))
		}
		_, err := c.EditEnvironment(ctx, testProject, 99, EnvironmentEdit{Tier: new(TierOther)})
		g.Expect(IsNotFound(err)).To(BeTrue())
		g.Expect(IsProjectNotFound(err)).To(BeFalse())

		rep, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: "rep-token"})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = rep.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{Tier: new(TierOther)})
		g.Expect(StatusCode(err)).To(Equal(http.StatusForbidden))
		g.Expect(ClassOf(err)).To(Equal(Terminal))

		bad, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: "wrong"})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = bad.EditEnvironment(ctx, testProject, 1, EnvironmentEdit{Tier: new(TierOther)})
		g.Expect(ClassOf(err)).To(Equal(InvalidCredentials))
	})
}

func TestResolveAgent(t *testing.T) {
	g := NewWithT(t)
	srv := envFake(t)
	for i := range 120 { // two pages of agents
		_, err := srv.AddAgent(gitlabtest.AgentSpec{Project: testProject, Name: fmt.Sprintf("agent-%03d", i)})
		g.Expect(err).NotTo(HaveOccurred())
	}
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()

	a, err := c.ResolveAgent(ctx, testProject, "prod-agent")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a).To(Equal(&Agent{ID: 7, Name: "prod-agent", ConfigProject: testProject}))
	last, err := c.ResolveAgent(ctx, testProject, "agent-119")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(last.Name).To(Equal("agent-119"))
	byID, err := c.ResolveAgent(ctx, "3", "7")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(byID.Name).To(Equal("prod-agent"))

	for _, ref := range []string{"nope", "999"} {
		_, err = c.ResolveAgent(ctx, testProject, ref)
		g.Expect(IsNotFound(err)).To(BeTrue(), ref)
		g.Expect(ClassOf(err)).To(Equal(Terminal))
	}
	_, err = c.ResolveAgent(ctx, testProject, "nope")
	g.Expect(err.Error()).To(ContainSubstring(`no agent named "nope" is registered in project group/app`))

	rep, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: "rep-token"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = rep.ResolveAgent(ctx, testProject, "prod-agent")
	g.Expect(IsNotFound(err)).To(BeTrue())
	_, err = c.ResolveAgent(ctx, testProject, "")
	g.Expect(ClassOf(err)).To(Equal(Terminal))
}

func TestListDeploymentMergeRequests(t *testing.T) {
	g := NewWithT(t)
	srv := envFake(t)
	for i := range 120 {
		_, err := srv.AddMergeRequest(gitlabtest.MergeRequestSpec{Project: testProject, Title: fmt.Sprintf("Change %d", i+1), TargetBranch: "main"})
		g.Expect(err).NotTo(HaveOccurred())
	}
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()
	d, err := c.CreateDeployment(ctx, testProject, CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusSuccess})
	g.Expect(err).NotTo(HaveOccurred())

	srv.ResetRequests()
	few, err := c.ListDeploymentMergeRequests(ctx, testProject, d.ID, 3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(few.Total).To(Equal(120))
	g.Expect(few.TotalExact).To(BeTrue())
	g.Expect(few.Items).To(HaveLen(3))
	g.Expect(few.Items[0]).To(Equal(MergeRequest{IID: 120, Title: "Change 120", WebURL: srv.URL + "/group/app/-/merge_requests/120", State: "merged"}))
	g.Expect(srv.Requests()).To(HaveLen(1))
	g.Expect(srv.Requests()[0].Query).To(ContainSubstring("per_page=3"))

	all, err := c.ListDeploymentMergeRequests(ctx, testProject, d.ID, 500)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(all.Items).To(HaveLen(120))
	g.Expect(all.Items[119].IID).To(Equal(int64(1)))

	countOnly, err := c.ListDeploymentMergeRequests(ctx, testProject, d.ID, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(countOnly.Items).To(BeEmpty())
	g.Expect(countOnly.Total).To(Equal(120))

	none, err := c.ListDeploymentMergeRequests(ctx, testProject, 4242, 5)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(none.Items).To(BeEmpty())
	g.Expect(none.Total).To(BeZero())

	_, err = c.ListDeploymentMergeRequests(ctx, "group/nope", d.ID, 5)
	g.Expect(IsProjectNotFound(err)).To(BeTrue())
}

func TestMergeRequestTotalWithoutCount(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		// Above 10,000 GitLab sends no X-Total.
		reply(w, http.StatusOK, `[{"iid": 9, "title": "A", "web_url": "u", "state": "merged"}]`, "X-Next-Page", "2", "X-Page", "1")
	})
	c := newClient(t, testConfig(), srv.URL)
	got, err := c.ListDeploymentMergeRequests(context.Background(), testProject, 1, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.TotalExact).To(BeFalse())
	g.Expect(got.Total).To(Equal(1))
	g.Expect(srv.count()).To(Equal(1))
	g.Expect(strings.Contains(srv.last().Path, "/deployments/1/merge_requests")).To(BeTrue())
}
