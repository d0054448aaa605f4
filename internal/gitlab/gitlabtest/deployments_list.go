package gitlabtest

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// Sort values of the list endpoint (DeploymentsFinder).
var (
	listOrderBy  = []string{"id", "iid", orderByCreated, orderByUpdated, orderByFinished}
	listSort     = []string{"asc", "desc"}
	listStatuses = []string{
		StatusCreated, StatusRunning, StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped, StatusBlocked,
	}
	finishedStatus = []string{StatusSuccess, StatusFailed, StatusCanceled}
)

// listFilter is the validated query of the list endpoint.
type listFilter struct {
	page                          pageRequest
	orderBy, sort                 string
	updatedAfter, updatedBefore   *time.Time
	finishedAfter, finishedBefore *time.Time
	environment, status           string
	hasEnvironment, hasStatus     bool
}

func optTime(v *validator, name string) *time.Time {
	if t, ok := v.datetime(name); ok {
		return &t
	}
	return nil
}

// parseListFilter runs Grape's validations in declaration order and
// records coerced values for the Link header.
func parseListFilter(p params) (listFilter, *apiError) {
	v := validator{p: p}
	lf := listFilter{page: parsePage(&v)}
	var ok bool
	if lf.orderBy, ok = v.str("order_by", false, listOrderBy...); !ok {
		lf.orderBy = "id"
	}
	if lf.sort, ok = v.str("sort", false, listSort...); !ok {
		lf.sort = sortAsc
	}
	lf.updatedAfter = optTime(&v, "updated_after")
	lf.updatedBefore = optTime(&v, "updated_before")
	lf.finishedAfter = optTime(&v, "finished_after")
	lf.finishedBefore = optTime(&v, "finished_before")
	lf.environment, lf.hasEnvironment = v.str("environment", false)
	lf.status, lf.hasStatus = v.str("status", false, listStatuses...)
	if err := v.err(); err != nil {
		return lf, err
	}
	p["order_by"] = param{value: lf.orderBy}
	p["sort"] = param{value: lf.sort}
	for name, t := range map[string]*time.Time{"updated_after": lf.updatedAfter, "updated_before": lf.updatedBefore,
		"finished_after": lf.finishedAfter, "finished_before": lf.finishedBefore} {
		if t != nil {
			p[name] = param{value: rubyDateTime(*t)}
		}
	}
	return lf, nil
}

// validate is DeploymentsFinder#validate!, in its order.
func (lf listFilter) validate() *apiError {
	byUpdated := lf.updatedAfter != nil || lf.updatedBefore != nil
	byFinished := lf.finishedAfter != nil || lf.finishedBefore != nil
	finishedStatusFilter := lf.hasStatus && slices.Contains(finishedStatus, lf.status)
	switch {
	case byUpdated && byFinished:
		return badRequest("Both `updated_at` filter and `finished_at` filter can not be specified")
	case byUpdated && lf.orderBy != orderByUpdated:
		return badRequest("`updated_at` filter requires `updated_at` sort")
	case byFinished && lf.orderBy != orderByFinished:
		return badRequest("`finished_at` filter requires `finished_at` sort.")
	case lf.orderBy == orderByFinished && !byFinished && !finishedStatusFilter:
		return badRequest("`finished_at` sort requires `finished_at` filter " +
			"or a filter with at least one of the finished statuses.")
	case byFinished && lf.status != StatusSuccess:
		return badRequest("`finished_at` filter must be combined with `success` status filter.")
	}
	return nil
}

// keep reports whether d passes the finder's filters.
func (lf listFilter) keep(d *deployment) bool {
	switch {
	case lf.updatedBefore != nil && d.updatedAt.After(*lf.updatedBefore),
		lf.updatedAfter != nil && d.updatedAt.Before(*lf.updatedAfter),
		lf.finishedBefore != nil && (d.finishedAt.IsZero() || !d.finishedAt.Before(*lf.finishedBefore)),
		lf.finishedAfter != nil && (d.finishedAt.IsZero() || d.finishedAt.Before(*lf.finishedAfter)),
		lf.hasEnvironment && d.env.name != lf.environment,
		lf.hasStatus && d.status != lf.status:
		return false
	}
	return true
}

// order sorts as the finder does: created_at and iid by id, updated_at with
// id as a same-direction tie-breaker, finished_at alone.
func (lf listFilter) order(ds []*deployment) {
	desc := lf.sort == sortDesc
	orderBy := lf.orderBy
	if lf.updatedAfter != nil || lf.updatedBefore != nil {
		orderBy = orderByUpdated
	}
	key := func(d *deployment) time.Time { return time.Time{} }
	switch orderBy {
	case orderByUpdated:
		key = func(d *deployment) time.Time { return d.updatedAt }
	case orderByFinished:
		key = func(d *deployment) time.Time { return d.finishedAt }
	}
	slices.SortStableFunc(ds, func(a, b *deployment) int {
		c := key(a).Compare(key(b))
		if c == 0 && orderBy != orderByFinished {
			c = cmp.Compare(a.id, b.id)
		}
		if desc {
			c = -c
		}
		return c
	})
}

// listDeployments serves GET /projects/:id/deployments.
func (f *Fake) listDeployments(c *call) *apiError {
	lf, err := parseListFilter(c.p)
	if err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityReadDeployment, p) {
		return forbidden("")
	}
	if err := lf.validate(); err != nil {
		return err
	}
	var rows []*deployment
	for _, d := range p.deployments {
		if lf.keep(d) {
			rows = append(rows, d)
		}
	}
	lf.order(rows)
	start, end := lf.page.window(len(rows))
	out := make([]deploymentJSON, 0, end-start)
	for _, d := range rows[start:end] {
		out = append(out, f.deploymentJSON(d, c.base))
	}
	lf.page.setHeaders(c, len(rows))
	writeJSON(c.w, http.StatusOK, out)
	return nil
}
