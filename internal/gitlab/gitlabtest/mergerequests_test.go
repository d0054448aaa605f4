package gitlabtest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// sha returns a 40-hex SHA made of one repeated digit or letter.
func sha(c string) string { return strings.Repeat(c, 40) }

// mrWorld is the standard world with a history on main, a-b-c-d-e, and
// merge requests merged as b, d (squashed) and e, one into release merged
// as c, one merged without a merge commit, an opened and a closed one.
func mrWorld(t *testing.T) (*world, map[string]int64) {
	t.Helper()
	w := newWorld(t)
	g := NewWithT(t)
	commits := make([]gitlabtest.CommitSpec, 0, 5)
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		commits = append(commits, gitlabtest.CommitSpec{SHA: sha(c), Title: "commit " + c})
	}
	g.Expect(w.PushCommits("acme/shop", "main", commits...)).To(Succeed())
	ids := map[string]int64{}
	add := func(key string, s gitlabtest.MergeRequestSpec) {
		s.Project = "acme/shop"
		if s.TargetBranch == "" {
			s.TargetBranch = "main"
		}
		s.Title = key
		w.clock.Advance(time.Second) // distinct created_at
		id, err := w.AddMergeRequest(s)
		g.Expect(err).NotTo(HaveOccurred())
		ids[key] = id
	}
	add("b", gitlabtest.MergeRequestSpec{MergeCommitSHA: sha("b")})
	add("d", gitlabtest.MergeRequestSpec{SquashCommitSHA: sha("d"), MergeCommitSHA: sha("9")})
	add("e", gitlabtest.MergeRequestSpec{MergeCommitSHA: sha("e")})
	add("release-c", gitlabtest.MergeRequestSpec{TargetBranch: "release", MergeCommitSHA: sha("c")})
	add("no-commit", gitlabtest.MergeRequestSpec{})
	add("opened", gitlabtest.MergeRequestSpec{State: "opened"})
	add("closed", gitlabtest.MergeRequestSpec{State: "closed", MergeCommitSHA: sha("e")})
	return w, ids
}

func (w *world) linked(t *testing.T, deployment int64) []string {
	t.Helper()
	d, err := w.Deployment(deployment)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	mrs, _, err := w.client(t, "tok-dev").DeploymentMergeRequests.ListDeploymentMergeRequests(1, d.ID, nil)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	titles := make([]string, 0, len(mrs))
	for _, mr := range mrs {
		titles = append(titles, mr.Title)
	}
	return titles
}

func TestMergeRequestLinking(t *testing.T) {
	t.Run("first deployment links every merged merge request of its ref", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		id := w.create(t, "tok-dev", "production", "main", sha("b"), "success")
		// newest first: created_at desc is the default order
		g.Expect(w.linked(t, id)).To(Equal([]string{"no-commit", "e", "d", "b"}))
	})
	t.Run("a later deployment links the merge commits of its range", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		first := w.create(t, "tok-dev", "production", "main", sha("b"), "success")
		w.clock.Advance(time.Minute)
		second := w.create(t, "tok-dev", "production", "main", sha("e"), "success")
		g.Expect(w.linked(t, first)).To(HaveLen(4))
		// c..e holds c (release-c's merge commit: GitLab does not filter by
		// target branch here), d (squashed) and e; the closed one is not merged.
		g.Expect(w.linked(t, second)).To(Equal([]string{"release-c", "e", "d"}))
	})
	t.Run("a merge request cherry-picked into the range is linked", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		g.Expect(w.PushCommits("acme/shop", "stable", gitlabtest.CommitSpec{SHA: sha("5")}, gitlabtest.CommitSpec{SHA: sha("6")})).To(Succeed())
		_, err := w.AddMergeRequest(gitlabtest.MergeRequestSpec{Project: "acme/shop", Title: "picked", TargetBranch: "main",
			State: "opened", CherryPickSHAs: []string{sha("6")}})
		g.Expect(err).NotTo(HaveOccurred())
		w.create(t, "tok-dev", "production", "stable", sha("5"), "success")
		w.clock.Advance(time.Minute)
		id := w.create(t, "tok-dev", "production", "stable", sha("6"), "success")
		g.Expect(w.linked(t, id)).To(Equal([]string{"picked"}))
	})
	t.Run("a redeploy or a rollback links nothing", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		w.create(t, "tok-dev", "production", "main", sha("d"), "success")
		w.clock.Advance(time.Minute)
		back := w.create(t, "tok-dev", "production", "main", sha("b"), "success")
		g.Expect(w.linked(t, back)).To(BeEmpty())
	})
	t.Run("the range starts at the previous success, not a failed deployment", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		w.create(t, "tok-dev", "production", "main", sha("a"), "success")
		w.clock.Advance(time.Minute)
		w.create(t, "tok-dev", "production", "main", sha("c"), "failed")
		w.clock.Advance(time.Minute)
		third := w.create(t, "tok-dev", "production", "main", sha("c"), "success")
		g.Expect(w.linked(t, third)).To(Equal([]string{"release-c", "b"}))
	})
	t.Run("links happen when the deployment succeeds, not while it runs", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		w.create(t, "tok-dev", "production", "main", sha("b"), "success")
		running := w.create(t, "tok-dev", "production", "main", sha("d"), "running")
		g.Expect(w.linked(t, running)).To(BeEmpty())
		_, _, err := w.client(t, "tok-dev").Deployments.UpdateProjectDeployment(1, running,
			&gitlab.UpdateProjectDeploymentOptions{Status: new(gitlab.DeploymentStatusSuccess)})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(w.linked(t, running)).To(Equal([]string{"release-c", "d"}))
	})
	t.Run("a deployed commit outside every history links its own merge request", func(t *testing.T) {
		g := NewWithT(t)
		w, _ := mrWorld(t)
		w.create(t, "tok-dev", "production", "main", sha("b"), "success")
		w.clock.Advance(time.Minute)
		id := w.create(t, "tok-dev", "production", "main", shaRelease, "success")
		g.Expect(w.linked(t, id)).To(BeEmpty())
		_, err := w.AddMergeRequest(gitlabtest.MergeRequestSpec{Project: "acme/shop", Title: "hotfix",
			TargetBranch: "main", MergeCommitSHA: shaOld})
		g.Expect(err).NotTo(HaveOccurred())
		w.clock.Advance(time.Minute)
		hot := w.create(t, "tok-dev", "production", "main", shaOld, "success")
		g.Expect(w.linked(t, hot)).To(Equal([]string{"hotfix"}))
	})
	for _, tc := range []struct {
		env   string
		links bool
	}{
		{"production", true},
		{"development", true}, // unfoldered: every tier links
		{"production/eu-1", true},
		{"staging/eu-1", true},
		{"review/fix-login", false},
		{"dev/eu-1", false},
		{"regions/eu-1", false}, // tier other
	} {
		t.Run("environment "+tc.env, func(t *testing.T) {
			g := NewWithT(t)
			w, _ := mrWorld(t)
			id := w.create(t, "tok-dev", tc.env, "main", sha("b"), "success")
			if tc.links {
				g.Expect(w.linked(t, id)).To(HaveLen(4))
			} else {
				g.Expect(w.linked(t, id)).To(BeEmpty())
			}
		})
	}
}

func TestDeploymentMergeRequestsEndpoint(t *testing.T) {
	g := NewWithT(t)
	w, ids := mrWorld(t)
	id := w.create(t, "tok-dev", "production", "main", sha("b"), "success")
	path := "/api/v4/projects/1/deployments/" + strconv.FormatInt(id, 10) + "/merge_requests"

	r := w.do(t, http.MethodGet, path+"?per_page=3", "tok-reporter", nil)
	g.Expect(r.status).To(Equal(http.StatusOK), r.body)
	g.Expect(r.header.Get("X-Total")).To(Equal("4"))
	g.Expect(r.header.Get("X-Total-Pages")).To(Equal("2"))
	g.Expect(r.header.Get("X-Next-Page")).To(Equal("2"))
	first := r.list()
	g.Expect(first).To(HaveLen(3))
	g.Expect(first[0]["iid"]).To(BeNumerically("==", 5))
	g.Expect(first[0]["title"]).To(Equal("no-commit"))
	g.Expect(first[0]["web_url"]).To(Equal(w.URL + "/acme/shop/-/merge_requests/5"))
	g.Expect(first[0]["references"]).To(HaveKeyWithValue("full", "acme/shop!5"))

	c := w.client(t, "tok-dev")
	opt := &gitlab.ListMergeRequestsOptions{ListOptions: gitlab.ListOptions{PerPage: 3}}
	all, err := gitlab.ScanAndCollect(func(p gitlab.PaginationOptionFunc) ([]*gitlab.MergeRequest, *gitlab.Response, error) {
		return c.DeploymentMergeRequests.ListDeploymentMergeRequests(1, id, opt, p)
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(all).To(HaveLen(4))
	g.Expect(all[3].ID).To(Equal(ids["b"]))

	asc := w.do(t, http.MethodGet, path+"?sort=asc&order_by=title", "tok-dev", nil).list()
	g.Expect(asc[0]["title"]).To(Equal("b"))
	g.Expect(w.do(t, http.MethodGet, path+"?state=opened", "tok-dev", nil).body).To(Equal("[]"))
	expectBody(g, w.do(t, http.MethodGet, path+"?state=bogus", "tok-dev", nil), 400, `{"error":"state does not have a valid value"}`)

	// GitLab does not check that the deployment exists.
	r = w.do(t, http.MethodGet, "/api/v4/projects/1/deployments/12345/merge_requests", "tok-dev", nil)
	g.Expect(r.status).To(Equal(200))
	g.Expect(r.body).To(Equal("[]"))
	expectBody(g, w.do(t, http.MethodGet, path, "tok-outsider", nil), 404, `{"message":"404 Project Not Found"}`)
	expectBody(g, w.do(t, http.MethodGet, path, "tok-guest", nil), 403, `{"message":"403 Forbidden"}`)
}

func TestSeedHistoryAndMergeRequests(t *testing.T) {
	g := NewWithT(t)
	seed, err := gitlabtest.ParseSeed([]byte(`
users: [{username: dev}]
projects:
  - path: acme/web
    members: {dev: developer}
    history:
      main: ["` + sha("a") + `", "` + sha("b") + `", "` + sha("c") + `"]
tokens: [{token: t, user: dev}]
merge_requests:
  - {project: acme/web, title: "Fix login", target_branch: main, merge_commit_sha: "` + sha("c") + `"}
`))
	g.Expect(err).NotTo(HaveOccurred())
	srv := gitlabtest.NewServer()
	t.Cleanup(srv.Close)
	g.Expect(srv.Seed(seed)).To(Succeed())
	c, err := gitlab.NewClient("t", gitlab.WithBaseURL(srv.APIURL()), gitlab.WithoutRetries())
	g.Expect(err).NotTo(HaveOccurred())
	mk := func(s string) int64 {
		d, _, err := c.Deployments.CreateProjectDeployment("acme/web", &gitlab.CreateProjectDeploymentOptions{
			Environment: new("production"), Ref: new("main"), SHA: new(s), Tag: new(false),
			Status: new(gitlab.DeploymentStatusSuccess)})
		g.Expect(err).NotTo(HaveOccurred())
		return d.ID
	}
	mk(sha("a"))
	second := mk(sha("c"))
	mrs, _, err := c.DeploymentMergeRequests.ListDeploymentMergeRequests("acme/web", second, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mrs).To(HaveLen(1))
	g.Expect(mrs[0].Title).To(Equal("Fix login"))

	bad, _ := gitlabtest.ParseSeed([]byte(`projects: [{path: a/b, history: {main: ["` + sha("a") + `"]}, branches: {main: "` + sha("a") + `"}}]`))
	g.Expect(gitlabtest.NewHandler().Seed(bad)).To(MatchError(ContainSubstring("both branches and history")))
}

func TestControlAPICommitsAndMergeRequests(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	ctl := func(method, path, body string) response { return w.do(t, method, "/-/fake"+path, "", body) }
	first := w.create(t, "tok-dev", "production", "main", shaMain, "success")
	g.Expect(first).NotTo(BeZero())
	r := ctl(http.MethodPost, "/projects/acme%2Fshop/commits", `{"branch":"main","commits":[{"sha":"`+shaMain+`"},{"sha":"`+sha("a")+`","title":"Fix login"}]}`)
	g.Expect(r.status).To(Equal(http.StatusNoContent), r.body)
	r = ctl(http.MethodPost, "/seed", `{"merge_requests":[{"project":"acme/shop","title":"Fix login","target_branch":"main","merge_commit_sha":"`+sha("a")+`"}],
	  "environments":[{"project":"acme/shop","name":"staging","external_url":"https://staging.example.com"}]}`)
	g.Expect(r.status).To(Equal(http.StatusOK), r.body)
	w.clock.Advance(time.Minute)
	second := w.create(t, "tok-dev", "production", "main", sha("a"), "success")
	g.Expect(w.linked(t, second)).To(Equal([]string{"Fix login"}))
	r = ctl(http.MethodGet, "/projects/acme%2Fshop/environments", "")
	g.Expect(r.body).To(ContainSubstring(`"external_url":"https://staging.example.com"`))
	g.Expect(ctl(http.MethodPost, "/projects/acme%2Fshop/commits", `{"branch":"main","commits":[{"sha":"nothex"}]}`).status).To(Equal(http.StatusBadRequest))
	g.Expect(ctl(http.MethodPost, "/projects/nope%2Fnope/commits", `{"branch":"main","commits":[]}`).status).To(Equal(http.StatusNotFound))
}
