package gitlabtest

import (
	"net/http"
	"time"
)

// writableStatuses are the statuses POST and PUT accept.
var writableStatuses = []string{StatusRunning, StatusSuccess, StatusFailed, StatusCanceled}

// ciUpdateForbidden is the reason PUT gives for CI-created deployments.
const ciUpdateForbidden = "Deployments created using GitLab CI can not be updated using the API"

// getDeployment serves GET /projects/:id/deployments/:deployment_id.
func (f *Fake) getDeployment(c *call) *apiError {
	v := validator{p: c.p}
	id, _ := v.integer("deployment_id", true)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityReadDeployment, p) {
		return forbidden("")
	}
	d := findDeployment(p, id)
	if d == nil {
		return recordNotFound()
	}
	writeJSON(c.w, http.StatusOK, f.deploymentExtendedJSON(d, c.base))
	return nil
}

func findDeployment(p *project, id int64) *deployment {
	for _, d := range p.deployments {
		if d.id == id {
			return d
		}
	}
	return nil
}

type createParams struct {
	environment, sha, ref, status string
	tag                           bool
}

func parseCreate(p params) (createParams, *apiError) {
	v := validator{p: p}
	var cp createParams
	cp.environment, _ = v.str("environment", true)
	cp.sha, _ = v.str("sha", true)
	cp.ref, _ = v.str("ref", true)
	cp.tag, _ = v.boolean("tag", true)
	cp.status, _ = v.str("status", true, writableStatuses...)
	return cp, v.err()
}

// createDeployment serves POST /projects/:id/deployments.
func (f *Fake) createDeployment(c *call) *apiError {
	cp, err := parseCreate(c.p)
	if err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	u := c.who.user
	if !f.can(u, abilityCreateDeployment, p) || !f.can(u, abilityCreateEnvironment, p) {
		return forbidden("")
	}
	if _, ok := p.resolveCommit(cp.ref); !ok {
		return validationError("ref", "The branch or tag does not exist")
	}
	env, err := f.findOrCreateEnvironment(p, cp.environment)
	if err != nil {
		return err
	}
	if f.protectedFrom(u, env) {
		return forbidden("")
	}
	if last := lastDeployment(env); last != nil && last.ref == cp.ref && last.tag == cp.tag &&
		last.sha == cp.sha && last.status == cp.status {
		writeJSON(c.w, http.StatusCreated, f.deploymentExtendedJSON(last, c.base))
		return nil
	}
	if _, ok := p.resolveCommit(cp.sha); !ok {
		return validationError("sha", "The commit does not exist")
	}
	d := f.newDeployment(p, env, cp.ref, cp.sha, cp.tag, u)
	if err := f.transition(d, cp.status, c.base); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, f.deploymentExtendedJSON(d, c.base))
	return nil
}

// updateDeployment serves PUT /projects/:id/deployments/:deployment_id.
func (f *Fake) updateDeployment(c *call) *apiError {
	v := validator{p: c.p}
	status, _ := v.str("status", true, writableStatuses...)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	d := findDeployment(p, leadingInt(c.route.deploymentID))
	if d == nil {
		return recordNotFound()
	}
	if !f.canUpdateDeployment(c.who.user, d) {
		return forbidden("")
	}
	if d.job != nil {
		return forbidden(ciUpdateForbidden)
	}
	if err := f.transition(d, status, c.base); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, f.deploymentExtendedJSON(d, c.base))
	return nil
}

// deleteDeployment serves DELETE /projects/:id/deployments/:deployment_id.
func (f *Fake) deleteDeployment(c *call) *apiError {
	v := validator{p: c.p}
	id, _ := v.integer("deployment_id", true)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	d := findDeployment(p, id)
	if d == nil {
		return recordNotFound()
	}
	if !f.canDestroyDeployment(c.who.user, d) {
		return forbidden("")
	}
	if modifiedSince(c.r, d.updatedAt) {
		return messageError(http.StatusPreconditionFailed, "412 Precondition Failed")
	}
	if d.status == StatusRunning {
		return messageError(http.StatusBadRequest, "Cannot destroy running deployment")
	}
	if lastDeployment(d.env) == d {
		return messageError(http.StatusBadRequest, "Deployment currently deployed to environment")
	}
	f.removeDeployment(d)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// modifiedSince is check_unmodified_since!: the record changed after the
// If-Unmodified-Since time.
func modifiedSince(r *http.Request, updated time.Time) bool {
	h := r.Header.Get("If-Unmodified-Since")
	if h == "" {
		return false
	}
	t, err := http.ParseTime(h)
	if err != nil {
		if t, err = parseDateTime(h); err != nil {
			return false
		}
	}
	return updated.After(t)
}
