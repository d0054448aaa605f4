package gitlabtest_test

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// envWorld is the standard world plus an agent "prod-agent" (ID 7) in
// acme/shop, an agent "foreign" in another project, and the environment
// "production" (ID 1), created through a deployment.
func envWorld(t *testing.T) *world {
	t.Helper()
	g := NewWithT(t)
	w := newWorld(t)
	_, err := w.AddAgent(gitlabtest.AgentSpec{Project: "acme/shop", Name: "prod-agent", ID: 7, CreatedBy: "maint"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.AddProject(gitlabtest.ProjectSpec{Path: "other/infra", Members: map[string]gitlabtest.AccessLevel{"maint": gitlabtest.Maintainer}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.AddAgent(gitlabtest.AgentSpec{Project: "other/infra", Name: "foreign", ID: 8})
	g.Expect(err).NotTo(HaveOccurred())
	w.create(t, "tok-maint", "production", "main", shaMain, "success")
	return w
}

const envPath = "/api/v4/projects/1/environments"

func envURL(id int64, rest ...string) string {
	return envPath + "/" + strconv.FormatInt(id, 10) + strings.Join(rest, "")
}

const agentMissing = `{"message":"400 Bad request - cluster agent doesn't exist or cannot be associated with this environment"}`

func TestListEnvironments(t *testing.T) {
	w := envWorld(t)
	_, err := w.AddEnvironment(gitlabtest.EnvironmentSpec{Project: "acme/shop", Name: "environment-stopped", State: "stopped"})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	_, err = w.AddEnvironment(gitlabtest.EnvironmentSpec{Project: "acme/shop", Name: "regions/eu-1"})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	get := func(token, query string) response { return w.do(t, http.MethodGet, envPath+query, token, nil) }

	t.Run("members see the environments with pagination headers", func(t *testing.T) {
		g := NewWithT(t)
		r := get("tok-reporter", "")
		g.Expect(r.status).To(Equal(http.StatusOK), r.body)
		g.Expect(r.header.Get("X-Total")).To(Equal("3"))
		g.Expect(r.header.Get("X-Page")).To(Equal("1"))
		l := r.list()
		g.Expect(l).To(HaveLen(3))
		g.Expect(l[0]["name"]).To(Equal("production"))
		g.Expect(l[0]["tier"]).To(Equal("production"))
		g.Expect(l[0]["external_url"]).To(BeNil())
		g.Expect(l[0]["state"]).To(Equal("available"))
		g.Expect(l[0]["project"]).To(HaveKeyWithValue("path_with_namespace", "acme/shop"))
		g.Expect(l[0]).NotTo(HaveKey("last_deployment"))
		g.Expect(l[1]["name"]).To(Equal("environment-stopped"))
	})
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"by name", "?name=production", []string{"production"}},
		{"by a name that does not exist", "?name=test", []string{}},
		{"by search, a case-insensitive prefix", "?search=ENVIR", []string{"environment-stopped"}},
		{"by a search that matches nothing", "?search=test", []string{}},
		{"by search within a folder", "?search=eu-", []string{"regions/eu-1"}},
		{"by search on the folder", "?search=regions/", []string{"regions/eu-1"}},
		{"by state", "?states=available", []string{"production", "regions/eu-1"}},
		{"by stopped state", "?states=stopped", []string{"environment-stopped"}},
		{"second page", "?per_page=2&page=2", []string{"regions/eu-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := get("tok-dev", tc.query)
			g.Expect(r.status).To(Equal(http.StatusOK), r.body)
			l := r.list()
			names := make([]string, 0, len(l))
			for _, e := range l {
				names = append(names, e["name"].(string))
			}
			g.Expect(names).To(Equal(tc.want))
		})
	}
	t.Run("errors", func(t *testing.T) {
		g := NewWithT(t)
		expectBody(g, get("tok-dev", "?search=ab"), 400, `{"message":"400 Bad request - Search query is less than 3 characters"}`)
		expectBody(g, get("tok-dev", "?states=test"), 400, `{"error":"states does not have a valid value"}`)
		expectBody(g, get("tok-dev", "?name=a&search=abc"), 400, `{"error":"name, search cannot be used together"}`)
		expectBody(g, get("tok-dev", "?per_page=0"), 400, `{"error":"per_page has a value not allowed"}`)
		expectBody(g, get("tok-outsider", ""), 404, `{"message":"404 Project Not Found"}`)
		expectBody(g, get("tok-guest", ""), 403, `{"message":"403 Forbidden"}`)
		expectBody(g, get("", ""), 401, `{"message":"401 Unauthorized"}`)
	})
	t.Run("through client-go, by name", func(t *testing.T) {
		g := NewWithT(t)
		envs, resp, err := w.client(t, "tok-dev").Environments.ListEnvironments("acme/shop",
			&gitlab.ListEnvironmentsOptions{Name: new("production")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.TotalItems).To(Equal(int64(1)))
		g.Expect(envs).To(HaveLen(1))
		g.Expect(envs[0].ID).To(Equal(int64(1)))
		g.Expect(envs[0].Tier).To(Equal("production"))
		g.Expect(envs[0].Project.PathWithNamespace).To(Equal("acme/shop"))
		g.Expect(envs[0].AutoStopSetting).To(Equal("always"))
	})
}

func TestCreateEnvironment(t *testing.T) {
	w := envWorld(t)
	post := func(token string, v url.Values) response { return w.do(t, http.MethodPost, envPath, token, v) }

	t.Run("with valid params", func(t *testing.T) {
		g := NewWithT(t)
		r := post("tok-dev", url.Values{"name": {"mepmep"}, "tier": {"staging"}})
		g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
		m := r.json()
		g.Expect(m["name"]).To(Equal("mepmep"))
		g.Expect(m["slug"]).To(Equal("mepmep"))
		g.Expect(m["tier"]).To(Equal("staging"))
		g.Expect(m["external_url"]).To(BeNil())
		g.Expect(m["auto_stop_setting"]).To(Equal("always"))
		g.Expect(m).NotTo(HaveKey("cluster_agent"))
	})
	t.Run("with a cluster agent, namespace and flux resource through client-go", func(t *testing.T) {
		g := NewWithT(t)
		e, resp, err := w.client(t, "tok-dev").Environments.CreateEnvironment(1, &gitlab.CreateEnvironmentOptions{
			Name: new("production/eu-1"), ExternalURL: new("https://eu.shop.example.com"),
			ClusterAgentID: new(int64(7)), KubernetesNamespace: new("shop"),
			FluxResourcePath: new("helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop"),
			Description:      new("EU"),
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
		g.Expect(e.Tier).To(Equal("production"))
		g.Expect(e.ClusterAgent).NotTo(BeNil())
		g.Expect(e.ClusterAgent.Name).To(Equal("prod-agent"))
		g.Expect(e.ClusterAgent.ConfigProject.PathWithNamespace).To(Equal("acme/shop"))
		g.Expect(e.KubernetesNamespace).To(Equal("shop"))
		g.Expect(e.FluxResourcePath).To(Equal("helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop"))
		g.Expect(e.ExternalURL).To(Equal("https://eu.shop.example.com"))
		g.Expect(e.Description).To(Equal("EU"))
		g.Expect(*e.CreatedAt).To(Equal(epoch))
	})
	t.Run("errors", func(t *testing.T) {
		g := NewWithT(t)
		expectBody(g, post("tok-dev", url.Values{"name": {"x"}, "cluster_agent_id": {"999"}}), 400, agentMissing)
		expectBody(g, post("tok-dev", url.Values{"name": {"x"}, "cluster_agent_id": {"8"}}), 400, agentMissing)
		expectBody(g, post("tok-dev", url.Values{"external_url": {"test.gitlab.com"}}), 400, `{"error":"name is missing"}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"production"}}), 400, `{"message":{"name":["has already been taken"]}}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "slug": {"foo"}}), 400, `{"error":"slug is automatically generated and cannot be changed"}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "tier": {"prod"}}), 400, `{"error":"tier does not have a valid value"}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "auto_stop_setting": {"never"}}), 400, `{"error":"auto_stop_setting does not have a valid value"}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"/foo"}}), 400, `{"message":{"name":["can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, but it cannot start or end with '/'"]}}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "kubernetes_namespace": {"shop"}}), 400, `{"message":{"kubernetes_namespace":["cannot be set without a cluster agent"]}}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "flux_resource_path": {"x"}}), 400, `{"message":{"flux_resource_path":["cannot be set without a kubernetes namespace"]}}`)
		expectBody(g, post("tok-dev", url.Values{"name": {"foo"}, "external_url": {"javascript:alert(1)"}}), 400, `{"message":{"external_url":["javascript scheme is not allowed"]}}`)
		expectBody(g, post("tok-reporter", url.Values{"name": {"foo"}}), 403, `{"message":"403 Forbidden"}`)
		expectBody(g, post("tok-outsider", url.Values{"name": {"foo"}}), 404, `{"message":"404 Project Not Found"}`)
		expectBody(g, w.do(t, http.MethodPost, "/api/v4/projects/999/environments", "tok-outsider", url.Values{"external_url": {"http://env.git.com"}}),
			400, `{"error":"name is missing"}`)
		envs, _ := w.Environments(projectID)
		g.Expect(envs).NotTo(ContainElement(HaveField("Name", "x")))
		g.Expect(envs).NotTo(ContainElement(HaveField("Name", "foo")))
	})
	t.Run("a developer's job token", func(t *testing.T) {
		g := NewWithT(t)
		job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "staging", Ref: "main", User: "dev"})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = w.RunJob(job.ID)
		g.Expect(err).NotTo(HaveOccurred())
		r := w.do(t, http.MethodPost, envPath, "", url.Values{"name": {"from-ci"}, "job_token": {job.Token}})
		g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
	})
}

func TestGuessedTier(t *testing.T) {
	w := newWorld(t)
	for name, tier := range map[string]string{
		"production": "production", "prd": "production", "live": "production", "production/eu-1": "production",
		"staging": "staging", "stg": "staging", "pre-prod": "staging", "nonprod": "staging", "demo": "staging",
		"model": "staging", "qa": "testing", "test": "testing", "int-eu": "testing", "acceptance": "testing",
		"development": "development", "review/fix-login": "development", "trunk": "development",
		"canary": "other", "customer-portal": "other",
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			e, _, err := w.client(t, "tok-dev").Environments.CreateEnvironment(1, &gitlab.CreateEnvironmentOptions{Name: new(name)})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(e.Tier).To(Equal(tier))
		})
	}
}

func TestEditEnvironment(t *testing.T) {
	const url1 = "https://mepmep.whatever.ninja"
	put := func(w *world, token string, body any) response {
		return w.do(t, http.MethodPut, envURL(1), token, body)
	}

	t.Run("external_url and tier", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		w.clock.Advance(time.Minute)
		e, _, err := w.client(t, "tok-dev").Environments.EditEnvironment(1, 1, &gitlab.EditEnvironmentOptions{
			ExternalURL: new(url1), Tier: new("staging")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(e.ExternalURL).To(Equal(url1))
		g.Expect(e.Tier).To(Equal("staging"))
		g.Expect(*e.UpdatedAt).To(Equal(epoch.Add(time.Minute)))
		// unchanged values do not touch updated_at
		w.clock.Advance(time.Minute)
		e, _, err = w.client(t, "tok-dev").Environments.EditEnvironment(1, 1, &gitlab.EditEnvironmentOptions{Tier: new("staging")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(*e.UpdatedAt).To(Equal(epoch.Add(time.Minute)))
		g.Expect(e.ExternalURL).To(Equal(url1))
	})
	t.Run("a blank external_url clears it; a null tier is guessed again", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		g.Expect(put(w, "tok-dev", `{"external_url":"`+url1+`","tier":"other"}`).status).To(Equal(200))
		r := put(w, "tok-dev", `{"external_url":"","tier":null}`)
		g.Expect(r.status).To(Equal(200), r.body)
		g.Expect(r.json()["external_url"]).To(BeNil())
		g.Expect(r.json()["tier"]).To(Equal("production"))
	})
	t.Run("name is not a parameter and is ignored", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		r := put(w, "tok-dev", url.Values{"name": {"renamed"}, "external_url": {url1}})
		g.Expect(r.status).To(Equal(200), r.body)
		g.Expect(r.json()["name"]).To(Equal("production"))
	})
	t.Run("cluster agent: associate, keep, remove", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		c := w.client(t, "tok-dev")
		e, _, err := c.Environments.EditEnvironment(1, 1, &gitlab.EditEnvironmentOptions{ClusterAgentID: new(int64(7)), KubernetesNamespace: new("shop")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(e.ClusterAgent.ID).To(Equal(int64(7)))
		e, _, err = c.Environments.EditEnvironment(1, 1, &gitlab.EditEnvironmentOptions{ExternalURL: new(url1)})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(e.ClusterAgent).NotTo(BeNil())
		g.Expect(e.KubernetesNamespace).To(Equal("shop"))
		// removing the agent alone leaves a namespace without an agent
		expectBody(g, put(w, "tok-dev", `{"cluster_agent_id":null}`), 400, `{"message":{"kubernetes_namespace":["cannot be set without a cluster agent"]}}`)
		r := put(w, "tok-dev", `{"cluster_agent_id":null,"kubernetes_namespace":null}`)
		g.Expect(r.status).To(Equal(200), r.body)
		g.Expect(r.json()).NotTo(HaveKey("cluster_agent"))
		envs, _ := w.Environments(projectID)
		g.Expect(envs[0].ClusterAgentID).To(BeZero())
		g.Expect(envs[0].KubernetesNamespace).To(BeEmpty())
	})
	t.Run("errors", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		expectBody(g, put(w, "tok-dev", url.Values{"cluster_agent_id": {"999"}}), 400, agentMissing)
		expectBody(g, put(w, "tok-dev", `{"cluster_agent_id":0}`), 400, agentMissing)
		expectBody(g, put(w, "tok-dev", url.Values{"cluster_agent_id": {"8"}}), 400, agentMissing)
		expectBody(g, put(w, "tok-dev", url.Values{"cluster_agent_id": {"x"}}), 400, `{"error":"cluster_agent_id is invalid"}`)
		expectBody(g, put(w, "tok-dev", url.Values{"slug": {"production-foo"}}), 400, `{"error":"slug is automatically generated and cannot be changed"}`)
		expectBody(g, put(w, "tok-dev", url.Values{"tier": {""}}), 400, `{"error":"tier does not have a valid value"}`)
		expectBody(g, put(w, "tok-dev", url.Values{"cluster_agent_id": {"7"}, "kubernetes_namespace": {"Shop_1"}}), 400,
			`{"message":{"kubernetes_namespace":["can contain only lowercase letters, digits, and '-'. Must start with a letter, and cannot end with '-'"]}}`)
		expectBody(g, put(w, "tok-dev", url.Values{"cluster_agent_id": {"7"}, "kubernetes_namespace": {strings.Repeat("a", 64)}}), 400,
			`{"message":{"kubernetes_namespace":["is too long (maximum is 63 characters)"]}}`)
		expectBody(g, put(w, "tok-dev", url.Values{"external_url": {"https://x.example.com/" + strings.Repeat("a", 250)}}), 400,
			`{"message":{"external_url":["is too long (maximum is 255 characters)"]}}`)
		expectBody(g, put(w, "tok-dev", url.Values{"flux_resource_path": {"HelmRelease/flux-system"}}), 400,
			`{"message":{"flux_resource_path":["cannot be set without a kubernetes namespace"]}}`)
		expectBody(g, w.do(t, http.MethodPut, envURL(999), "tok-dev", url.Values{"tier": {"other"}}), 404, `{"message":"404 Not found"}`)
		expectBody(g, w.do(t, http.MethodPut, envPath+"/abc", "tok-dev", nil), 400, `{"error":"environment_id is invalid"}`)
		expectBody(g, put(w, "tok-reporter", url.Values{"tier": {"other"}}), 403, `{"message":"403 Forbidden"}`)
		expectBody(g, put(w, "tok-outsider", url.Values{"tier": {"other"}}), 404, `{"message":"404 Project Not Found"}`)
		// nothing of the failed edits was kept
		envs, _ := w.Environments(projectID)
		g.Expect(envs[0]).To(And(HaveField("Tier", "production"), HaveField("ExternalURL", ""), HaveField("ClusterAgentID", int64(0))))
	})
	t.Run("client-go classifies a 400 as an ErrorResponse", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		_, _, err := w.client(t, "tok-dev").Environments.EditEnvironment(1, 1, &gitlab.EditEnvironmentOptions{ClusterAgentID: new(int64(999))})
		er, ok := errors.AsType[*gitlab.ErrorResponse](err)
		g.Expect(ok).To(BeTrue())
		g.Expect(er.Response.StatusCode).To(Equal(400))
		g.Expect(er.Message).To(ContainSubstring("cluster agent doesn't exist"))
	})
	t.Run("a protected environment does not restrict the edit route", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		g.Expect(w.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: "acme/shop", Name: "production"})).To(Succeed())
		r := put(w, "tok-dev", url.Values{"external_url": {url1}})
		g.Expect(r.status).To(Equal(200), r.body)
		// but stopping and deleting it are the environment's own abilities
		expectBody(g, w.do(t, http.MethodPost, envURL(1, "/stop"), "tok-dev", nil), 403, `{"message":"403 Forbidden"}`)
	})
	t.Run("a job token", func(t *testing.T) {
		g := NewWithT(t)
		w := envWorld(t)
		job, err := w.CreateJob(gitlabtest.JobSpec{Project: "acme/shop", Environment: "staging", Ref: "main", User: "maint"})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = w.RunJob(job.ID)
		g.Expect(err).NotTo(HaveOccurred())
		r := w.do(t, http.MethodPut, envURL(1), "", url.Values{"tier": {"production"}, "job_token": {job.Token}})
		g.Expect(r.status).To(Equal(http.StatusOK), r.body)
	})
}

func TestGetEnvironment(t *testing.T) {
	g := NewWithT(t)
	w := envWorld(t)
	g.Expect(w.do(t, http.MethodPut, envURL(1), "tok-maint", url.Values{"cluster_agent_id": {"7"},
		"kubernetes_namespace": {"flux-system"}, "flux_resource_path": {"HelmRelease/flux-system"}}).status).To(Equal(200))

	r := w.do(t, http.MethodGet, envURL(1), "tok-dev", nil)
	g.Expect(r.status).To(Equal(http.StatusOK), r.body)
	m := r.json()
	g.Expect(m["last_deployment"]).To(HaveKeyWithValue("sha", shaMain))
	g.Expect(m["last_deployment"]).NotTo(HaveKey("environment"))
	g.Expect(m).NotTo(HaveKey("project"))
	g.Expect(m["cluster_agent"]).To(HaveKeyWithValue("name", "prod-agent"))
	g.Expect(m["kubernetes_namespace"]).To(Equal("flux-system"))
	g.Expect(m["flux_resource_path"]).To(Equal("HelmRelease/flux-system"))
	g.Expect(m["auto_stop_at"]).To(BeNil())

	e, _, err := w.client(t, "tok-dev").Environments.GetEnvironment(1, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.LastDeployment.SHA).To(Equal(shaMain))
	g.Expect(e.ClusterAgent.ID).To(Equal(int64(7)))

	// a reporter may not read cluster agents: the agent keys are left out
	m = w.do(t, http.MethodGet, envURL(1), "tok-reporter", nil).json()
	g.Expect(m).NotTo(HaveKey("cluster_agent"))
	g.Expect(m).NotTo(HaveKey("kubernetes_namespace"))
	g.Expect(m).NotTo(HaveKey("flux_resource_path"))

	fresh := w.do(t, http.MethodPost, envPath, "tok-dev", url.Values{"name": {"fresh"}}).json()
	g.Expect(w.do(t, http.MethodGet, envURL(int64(fresh["id"].(float64))), "tok-dev", nil).json()).To(HaveKeyWithValue("last_deployment", BeNil()))

	expectBody(g, w.do(t, http.MethodGet, envURL(999), "tok-dev", nil), 404, `{"message":"404 Not found"}`)
	expectBody(g, w.do(t, http.MethodGet, envURL(1), "tok-outsider", nil), 404, `{"message":"404 Project Not Found"}`)
	expectBody(g, w.do(t, http.MethodGet, envPath+"/x", "tok-dev", nil), 400, `{"error":"environment_id is invalid"}`)
}

func TestStopAndDeleteEnvironment(t *testing.T) {
	g := NewWithT(t)
	w := envWorld(t)
	del := func(token string, id int64, headers ...string) response {
		return w.do(t, http.MethodDelete, envURL(id), token, nil, headers...)
	}
	expectBody(g, del("tok-maint", 1), 403, `{"message":"403 Forbidden"}`) // not stopped
	expectBody(g, del("tok-maint", 999), 404, `{"message":"404 Not found"}`)
	expectBody(g, del("tok-outsider", 1), 404, `{"message":"404 Project Not Found"}`)
	expectBody(g, w.do(t, http.MethodPost, envURL(999, "/stop"), "tok-maint", nil), 404, `{"message":"404 Not found"}`)
	expectBody(g, w.do(t, http.MethodPost, envURL(1, "/stop"), "tok-reporter", nil), 403, `{"message":"403 Forbidden"}`)

	e, _, err := w.client(t, "tok-dev").Environments.StopEnvironment(1, 1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.State).To(Equal("stopped"))

	stale := epoch.Add(-time.Hour).Format(http.TimeFormat)
	expectBody(g, del("tok-maint", 1, "If-Unmodified-Since", stale), 412, `{"message":"412 Precondition Failed"}`)
	expectBody(g, del("tok-reporter", 1), 403, `{"message":"403 Forbidden"}`)
	r := del("tok-dev", 1)
	g.Expect(r.status).To(Equal(http.StatusNoContent))
	g.Expect(r.body).To(BeEmpty())
	envs, _ := w.Environments(projectID)
	g.Expect(envs).To(BeEmpty())
	ds, _ := w.Deployments(projectID, "")
	g.Expect(ds).To(BeEmpty())

	// with_action and no stop action: the environment stays available
	// unless forced
	created := w.do(t, http.MethodPost, envPath, "tok-dev", url.Values{"name": {"held"}, "auto_stop_setting": {"with_action"}}).json()
	id := int64(created["id"].(float64))
	g.Expect(w.do(t, http.MethodPost, envURL(id, "/stop"), "tok-dev", nil).json()["state"]).To(Equal("available"))
	g.Expect(w.do(t, http.MethodPost, envURL(id, "/stop"), "tok-dev", url.Values{"force": {"true"}}).json()["state"]).To(Equal("stopped"))
	// a successful deployment starts a stopped environment again
	w.create(t, "tok-dev", "held", "main", shaMain, "success")
	envs, _ = w.Environments(projectID)
	g.Expect(envs).To(ContainElement(And(HaveField("Name", "held"), HaveField("State", "available"))))
}
