package gitlabtest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// listWorld has three deployments: 1 production success, 2 staging
// success, 3 staging failed, one minute apart.
func listWorld(t *testing.T) *world {
	w := newWorld(t)
	w.create(t, "tok-maint", "production", "main", shaMain, "success")
	w.clock.Advance(time.Minute)
	w.create(t, "tok-maint", "staging", "main", shaMain, "success")
	w.clock.Advance(time.Minute)
	w.create(t, "tok-maint", "staging", "release", shaRelease, "failed")
	return w
}

func ids(l []map[string]any) []int {
	out := make([]int, 0, len(l))
	for _, d := range l {
		out = append(out, int(d["id"].(float64)))
	}
	return out
}

func TestListFiltersAndOrder(t *testing.T) {
	w := listWorld(t)
	cases := []struct {
		query string
		want  []int
	}{
		{"", []int{1, 2, 3}},
		{"?order_by=iid&sort=desc", []int{3, 2, 1}},
		{"?order_by=created_at&sort=desc", []int{3, 2, 1}},
		{"?environment=staging", []int{2, 3}},
		{"?environment=nope", []int{}},
		{"?status=failed", []int{3}},
		{"?order_by=updated_at&sort=desc&updated_after=2024-05-01T10:01:00Z", []int{3, 2}},
		{"?order_by=updated_at&updated_before=2024-05-01T10:01:00Z", []int{1, 2}},
		{"?order_by=updated_at&updated_before=2024-05-01T09:00:00Z&updated_after=2024-05-01T11:00:00Z", []int{}},
		{"?order_by=finished_at&status=success&finished_before=2024-05-01T10:01:00Z", []int{1}},
		{"?order_by=finished_at&status=success&finished_after=2024-05-01T10:01:00Z", []int{2}},
		{"?order_by=finished_at&sort=desc&status=failed", []int{3}},
		{"?pagination=keyset", []int{1, 2, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			g := NewWithT(t)
			r := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments"+tc.query, "tok-reporter", nil)
			g.Expect(r.status).To(Equal(200), r.body)
			g.Expect(ids(r.list())).To(Equal(tc.want))
		})
	}
}

func TestListValidation(t *testing.T) {
	w := listWorld(t)
	cases := map[string]string{
		"?order_by=ref":                     `{"error":"order_by does not have a valid value"}`,
		"?order_by=wrong&sort=wrong":        `{"error":"order_by does not have a valid value, sort does not have a valid value"}`,
		"?status=bogus":                     `{"error":"status does not have a valid value"}`,
		"?status[]=success&status[]=failed": `{"error":"status is invalid"}`,
		"?per_page=0":                       `{"error":"per_page has a value not allowed"}`,
		"?page=x":                           `{"error":"page is invalid"}`,
		"?updated_after=yesterday":          `{"error":"updated_after is invalid"}`,
		"?updated_after=2024-01-01T00:00:00Z&finished_after=2024-01-01T00:00:00Z": `{"message":"400 Bad request - Both ` +
			"`updated_at` filter and `finished_at`" + ` filter can not be specified"}`,
		"?updated_after=2024-01-01T00:00:00Z":                                     "{\"message\":\"400 Bad request - `updated_at` filter requires `updated_at` sort\"}",
		"?finished_after=2024-01-01T00:00:00Z&status=success":                     "{\"message\":\"400 Bad request - `finished_at` filter requires `finished_at` sort.\"}",
		"?order_by=finished_at":                                                   "{\"message\":\"400 Bad request - `finished_at` sort requires `finished_at` filter or a filter with at least one of the finished statuses.\"}",
		"?order_by=finished_at&status=running":                                    "{\"message\":\"400 Bad request - `finished_at` sort requires `finished_at` filter or a filter with at least one of the finished statuses.\"}",
		"?order_by=finished_at&status=failed&finished_after=2024-01-01T00:00:00Z": "{\"message\":\"400 Bad request - `finished_at` filter must be combined with `success` status filter.\"}",
	}
	for q, body := range cases {
		t.Run(q, func(t *testing.T) {
			expectBody(NewWithT(t), w.do(t, http.MethodGet, "/api/v4/projects/1/deployments"+q, "tok-reporter", nil), 400, body)
		})
	}
}

func TestListPermissions(t *testing.T) {
	g := NewWithT(t)
	w := listWorld(t)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-guest", nil), 403, `{"message":"403 Forbidden"}`)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/1/deployments", "tok-outsider", nil), 404, `{"message":"404 Project Not Found"}`)
	expectBody(g, w.do(t, http.MethodGet, "/api/v4/projects/42/deployments", "tok-admin", nil), 404, `{"message":"404 Project Not Found"}`)
	g.Expect(w.do(t, http.MethodGet, "/api/v4/projects/"+projectEnc+"/deployments", "tok-admin", nil).status).To(Equal(200))
}

func TestPaginationHeaders(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	for i := range 5 {
		w.create(t, "tok-maint", "review/"+strconv.Itoa(i), "main", shaMain, "running")
	}
	r := w.do(t, http.MethodGet, "/api/v4/projects/"+projectEnc+"/deployments?per_page=2&page=2&environment=", "tok-maint", nil)
	g.Expect(r.status).To(Equal(200))
	g.Expect(ids(r.list())).To(Equal([]int{3, 4}))
	r = w.do(t, http.MethodGet, "/api/v4/projects/"+projectEnc+"/deployments?per_page=2&page=2&status=running", "tok-maint", nil)
	g.Expect(ids(r.list())).To(Equal([]int{3, 4}))
	h := r.header
	g.Expect(h.Get("X-Total")).To(Equal("5"))
	g.Expect(h.Get("X-Total-Pages")).To(Equal("3"))
	g.Expect(h.Get("X-Page")).To(Equal("2"))
	g.Expect(h.Get("X-Per-Page")).To(Equal("2"))
	g.Expect(h.Get("X-Next-Page")).To(Equal("3"))
	g.Expect(h.Get("X-Prev-Page")).To(Equal("1"))
	base := w.URL + "/api/v4/projects/" + projectEnc + "/deployments?id=acme%2Fshop&order_by=id&"
	link := func(page int, rel string) string {
		return "<" + base + "page=" + strconv.Itoa(page) + "&per_page=2&sort=asc&status=running>; rel=\"" + rel + "\""
	}
	g.Expect(h.Get("Link")).To(Equal(strings.Join([]string{link(1, "prev"), link(3, "next"), link(1, "first"), link(3, "last")}, ", ")))

	r = w.do(t, http.MethodGet, "/api/v4/projects/1/deployments?per_page=500", "tok-maint", nil)
	g.Expect(r.header.Get("X-Per-Page")).To(Equal("100"))
	g.Expect(r.header.Get("X-Next-Page")).To(Equal(""))
	g.Expect(r.header.Get("X-Prev-Page")).To(Equal(""))
	r = w.do(t, http.MethodGet, "/api/v4/projects/1/deployments?page=9", "tok-maint", nil)
	g.Expect(r.body).To(Equal("[]"))
	g.Expect(r.header.Get("X-Total")).To(Equal("5"))
}

func TestPaginationBeyondCountLimit(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	for range 10001 {
		w.create(t, "tok-maint", "production", "main", shaMain, "running")
	}
	r := w.do(t, http.MethodGet, "/api/v4/projects/1/deployments?per_page=1", "tok-maint", nil)
	g.Expect(r.header.Values("X-Total")).To(BeEmpty())
	g.Expect(r.header.Values("X-Total-Pages")).To(BeEmpty())
	g.Expect(r.header.Get("X-Next-Page")).To(Equal("2"))
	g.Expect(r.header.Get("Link")).NotTo(ContainSubstring(`rel="last"`))
}

func TestScanFollowsLinks(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	for range 7 {
		w.clock.Advance(time.Second)
		w.create(t, "tok-maint", "production", "main", shaMain, "failed")
	}
	w.create(t, "tok-maint", "staging", "main", shaMain, "failed")
	c := w.client(t, "tok-maint")
	opts := &gitlab.ListProjectDeploymentsOptions{ListOptions: gitlab.ListOptions{PerPage: 3},
		Environment: new("production"), OrderBy: new("updated_at"), Sort: new("desc"),
		UpdatedAfter: new(epoch)}
	it, errf := gitlab.Scan(func(p gitlab.PaginationOptionFunc) ([]*gitlab.Deployment, *gitlab.Response, error) {
		return c.Deployments.ListProjectDeployments("acme/shop", opts, p)
	})
	var got []int64
	for d := range it {
		got = append(got, d.ID)
	}
	g.Expect(errf()).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]int64{7, 6, 5, 4, 3, 2, 1}))
	g.Expect(w.CountRequests("GET /projects/:id/deployments", 200)).To(Equal(3))
}
