package gitlabtest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultPerPage = 20
	maxPerPage     = 100
	// maxCountLimit is Kaminari's MAX_COUNT_LIMIT: above it, totals are
	// not sent.
	maxCountLimit = 10000
)

// pageRequest is a validated page and per_page.
type pageRequest struct {
	page, perPage int
}

// parsePage validates the pagination params and records their values
// for the Link header.
func parsePage(v *validator) pageRequest {
	pr := pageRequest{page: 1, perPage: defaultPerPage}
	if n, ok := v.integer("page", false); ok && n > 0 {
		pr.page = int(min(n, 1<<30))
	}
	if n, ok := v.integer("per_page", false); ok {
		switch {
		case n == 0:
			v.fail("per_page", "has a value not allowed")
		case n > maxPerPage:
			pr.perPage = maxPerPage
		case n > 0:
			pr.perPage = int(n)
		}
	}
	return pr
}

// window returns the slice bounds of the page within total rows.
func (pr pageRequest) window(total int) (int, int) {
	start := min((pr.page-1)*pr.perPage, total)
	return start, min(start+pr.perPage, total)
}

// setHeaders writes GitLab's offset pagination headers, as
// Gitlab::Pagination::OffsetHeaderBuilder does.
func (pr pageRequest) setHeaders(c *call, total int) {
	h := c.w.Header()
	totalPages := max(1, (total+pr.perPage-1)/pr.perPage)
	counted := total <= maxCountLimit
	next, prev := "", ""
	if pr.page < totalPages {
		next = strconv.Itoa(pr.page + 1)
	}
	if pr.page > 1 && pr.page <= totalPages {
		prev = strconv.Itoa(pr.page - 1)
	}
	h.Set("X-Per-Page", strconv.Itoa(pr.perPage))
	h.Set("X-Page", strconv.Itoa(pr.page))
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)
	var links []string
	if prev != "" {
		links = append(links, pr.link(c, pr.page-1, "prev"))
	}
	if next != "" {
		links = append(links, pr.link(c, pr.page+1, "next"))
	}
	links = append(links, pr.link(c, 1, "first"))
	if counted {
		links = append(links, pr.link(c, totalPages, "last"))
		h.Set("X-Total", strconv.Itoa(total))
		h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	}
	h.Set("Link", strings.Join(links, ", "))
}

// link builds one Link entry: the request URL on the configured host with
// every request parameter plus page and per_page, keys sorted as Rails'
// to_query sorts them.
func (pr pageRequest) link(c *call, page int, rel string) string {
	q := map[string]param{}
	for k, v := range c.p {
		switch k {
		case "private_token", "job_token", "page", "per_page":
			continue
		}
		if v.isNull {
			continue
		}
		q[k] = v
	}
	q["page"] = param{value: strconv.Itoa(page)}
	q["per_page"] = param{value: strconv.Itoa(pr.perPage)}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := q[k]
		if v.isArray {
			for _, e := range v.array {
				parts = append(parts, url.QueryEscape(k+"[]")+"="+url.QueryEscape(e))
			}
			continue
		}
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v.value))
	}
	return "<" + c.base + c.r.URL.EscapedPath() + "?" + strings.Join(parts, "&") + `>; rel="` + rel + `"`
}
