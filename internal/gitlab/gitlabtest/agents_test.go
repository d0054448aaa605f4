package gitlabtest_test

import (
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func TestClusterAgents(t *testing.T) {
	g := NewWithT(t)
	w := envWorld(t)
	_, err := w.AddAgent(gitlabtest.AgentSpec{Project: "acme/shop", Name: "staging-agent"})
	g.Expect(err).NotTo(HaveOccurred())
	c := w.client(t, "tok-dev")

	agents, resp, err := c.ClusterAgents.ListAgents(1, &gitlab.ListAgentsOptions{ListOptions: gitlab.ListOptions{PerPage: 1}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.TotalItems).To(Equal(int64(2)))
	g.Expect(resp.NextPage).To(Equal(int64(2)))
	g.Expect(agents).To(HaveLen(1))
	g.Expect(agents[0].Name).To(Equal("prod-agent"))
	g.Expect(agents[0].ID).To(Equal(int64(7)))
	g.Expect(agents[0].CreatedByUserID).To(Equal(int64(2))) // maint
	g.Expect(agents[0].ConfigProject.PathWithNamespace).To(Equal("acme/shop"))
	g.Expect(agents[0].ConfigProject.NameWithNamespace).To(Equal("acme / shop"))

	a, _, err := c.ClusterAgents.GetAgent("acme/shop", 7)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a.Name).To(Equal("prod-agent"))
	_, _, err = c.ClusterAgents.GetAgent("acme/shop", 8) // another project's
	g.Expect(errors.Is(err, gitlab.ErrNotFound)).To(BeTrue())

	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/cluster_agents", "tok-reporter", nil), 404, `{"message":"404 ClusterAgents Not Found"}`)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/cluster_agents/7", "tok-reporter", nil), 404, `{"message":"404 Not found"}`)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/cluster_agents/x", "tok-dev", nil), 400, `{"error":"agent_id is invalid"}`)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/cluster_agents", "tok-outsider", nil), 404, `{"message":"404 Project Not Found"}`)

	// the agents API does not accept job tokens
	job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "staging", Ref: "main", User: "dev"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.RunJob(job.ID)
	g.Expect(err).NotTo(HaveOccurred())
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/cluster_agents?job_token="+job.Token, "", nil), 401, `{"message":"401 Unauthorized"}`)
}

func TestSeedEnvironmentsAndAgents(t *testing.T) {
	g := NewWithT(t)
	seed, err := gitlabtest.ParseSeed([]byte(`
users: [{username: dev}]
projects: [{path: acme/web, members: {dev: developer}}]
cluster_agents:
  - {project: acme/web, name: prod, id: 12}
environments:
  - project: acme/web
    name: production
    tier: production
    external_url: https://shop.example.com
    cluster_agent: prod
    kubernetes_namespace: shop
  - {project: acme/web, name: nonprod}
`))
	g.Expect(err).NotTo(HaveOccurred())
	f := gitlabtest.NewHandler()
	g.Expect(f.Seed(seed)).To(Succeed())
	envs, err := f.Environments("acme/web")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(envs).To(HaveLen(2))
	g.Expect(envs[0]).To(And(HaveField("Tier", "production"), HaveField("ExternalURL", "https://shop.example.com"),
		HaveField("ClusterAgentID", int64(12)), HaveField("KubernetesNamespace", "shop")))
	g.Expect(envs[1].Tier).To(Equal("staging")) // GitLab's guess for "nonprod"

	for _, bad := range []gitlabtest.EnvironmentSpec{
		{Project: "acme/web", Name: "production"},
		{Project: "acme/web", Name: "x", ClusterAgent: "missing"},
		{Project: "acme/web", Name: "x", KubernetesNamespace: "shop"},
		{Project: "acme/web", Name: "x", Tier: "prod"},
		{Project: "acme/web", Name: "x", State: "gone"},
	} {
		_, err := f.AddEnvironment(bad)
		g.Expect(err).To(HaveOccurred(), "%+v", bad)
	}
	_, err = f.AddAgent(gitlabtest.AgentSpec{Project: "acme/web", Name: "Bad_Name"})
	g.Expect(err).To(MatchError(gitlabtest.ErrInvalid))
	_, err = f.AddAgent(gitlabtest.AgentSpec{Project: "acme/web", Name: "prod"})
	g.Expect(err).To(MatchError(gitlabtest.ErrInvalid))
}
