package gitlabtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Environment states, tiers and auto-stop settings, with GitLab's names.
const (
	envAvailable    = "available"
	envStopping     = "stopping"
	envStopped      = "stopped"
	autoStopAlways  = "always"
	autoStopAction  = "with_action"
	tierProduction  = "production"
	tierStaging     = "staging"
	minSearchLength = 3
	// maxEnvStringLength bounds external_url and flux_resource_path.
	maxEnvStringLength = 255
	maxDescription     = 10000
	maxNamespaceLength = 63
	agentNotAssociable = "cluster agent doesn't exist or cannot be associated with this environment"
	slugAbsence        = "is automatically generated and cannot be changed"
	namespaceFormatMsg = "can contain only lowercase letters, digits, and '-'. Must start with a letter, and cannot end with '-'"
)

var (
	envStates        = []string{envAvailable, envStopping, envStopped}
	envTiers         = []string{tierProduction, tierStaging, "testing", "development", "other"}
	autoStopSettings = []string{autoStopAlways, autoStopAction}
	// unsafeSchemes is Gitlab::Utils::SanitizeNodeLink::UNSAFE_PROTOCOLS.
	unsafeSchemes = []string{"data", "javascript", "vbscript"}
)

// listEnvironments serves GET /projects/:id/environments, as
// Environments::EnvironmentsFinder: name is an exact match, search a
// case-insensitive prefix of the name or of the name within its folder,
// states one state; ordered by ID.
func (f *Fake) listEnvironments(c *call) *apiError {
	v := validator{p: c.p}
	pr := parsePage(&v)
	name, byName := v.str("name", false)
	search, bySearch := v.str("search", false)
	state, byState := v.str("states", false, envStates...)
	if byName && bySearch {
		v.errs = append(v.errs, "name, search cannot be used together")
	}
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityReadEnvironment, p) {
		return forbidden("")
	}
	if bySearch && utf8.RuneCountInString(search) < minSearchLength {
		return badRequest("Search query is less than " + strconv.Itoa(minSearchLength) + " characters")
	}
	var rows []*environment
	for _, e := range p.environments {
		switch {
		case byName && e.name != name:
		case bySearch && !e.matchesSearch(search):
		case byState && e.state != state:
		default:
			rows = append(rows, e)
		}
	}
	start, end := pr.window(len(rows))
	out := make([]map[string]any, 0, end-start)
	for _, e := range rows[start:end] {
		out = append(out, f.environmentEntity(e, c.who.user, c.base, false))
	}
	pr.setHeaders(c, len(rows))
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// findEnvironmentFor validates :environment_id, finds the project, checks
// read_environment and finds the environment, in GitLab's order.
func (f *Fake) findEnvironmentFor(c *call) (*project, *environment, *apiError) {
	v := validator{p: c.p}
	id, _ := v.integer("environment_id", true)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	p, err := f.findProject(c)
	if err != nil {
		return nil, nil, err
	}
	if !f.can(c.who.user, abilityReadEnvironment, p) {
		return nil, nil, forbidden("")
	}
	e := p.environmentByID(id)
	if e == nil {
		return nil, nil, recordNotFound()
	}
	return p, e, nil
}

func (p *project) environmentByID(id int64) *environment {
	for _, e := range p.environments {
		if e.id == id {
			return e
		}
	}
	return nil
}

// getEnvironment serves GET /projects/:id/environments/:environment_id,
// the only route that also renders last_deployment.
func (f *Fake) getEnvironment(c *call) *apiError {
	_, e, err := f.findEnvironmentFor(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, f.environmentEntity(e, c.who.user, c.base, true))
	return nil
}

// envChange is the set of attributes a create or edit assigns; a nil
// pointer leaves the attribute alone, a pointer to "" clears it.
type envChange struct {
	externalURL, tier, namespace, fluxPath, description, autoStop *string
	// setAgent says cluster_agent_id was sent; agentID is nil when it was
	// null or blank (which clears the agent).
	agentID  *int64
	setAgent bool
}

// parseEnvChange validates the optional attributes shared by POST and PUT
// the way Grape declares them. Blank and null values are kept as "": the
// model's nullify_if_blank turns them into nil.
func parseEnvChange(v *validator, create bool) envChange {
	var ch envChange
	ch.externalURL = optionalString(v, "external_url")
	if _, ok := v.p["slug"]; ok {
		v.fail("slug", slugAbsence)
	}
	if t := optionalString(v, "tier"); t != nil {
		if *t == "" && v.p["tier"].isNull {
			ch.tier = t // tier: null re-guesses the tier
		} else if slices.Contains(envTiers, *t) {
			ch.tier = t
		} else {
			v.fail("tier", "does not have a valid value")
		}
	}
	if raw, ok := v.p["cluster_agent_id"]; ok {
		blank := raw.isNull || (!raw.isArray && !raw.isHash && strings.TrimSpace(raw.value) == "")
		if n, ok := v.integer("cluster_agent_id", false); ok {
			ch.agentID = &n
		}
		ch.setAgent = blank || ch.agentID != nil
	}
	ch.namespace = optionalString(v, "kubernetes_namespace")
	ch.fluxPath = optionalString(v, "flux_resource_path")
	ch.description = optionalString(v, "description")
	if a := optionalString(v, "auto_stop_setting"); a != nil {
		if slices.Contains(autoStopSettings, *a) {
			ch.autoStop = a
		} else {
			v.fail("auto_stop_setting", "does not have a valid value")
		}
	} else if create {
		always := autoStopAlways
		ch.autoStop = &always
	}
	return ch
}

// optionalString returns a String parameter that was sent, "" for a blank
// or null one, and nil when it was not sent.
func optionalString(v *validator, name string) *string {
	pv, ok := v.p[name]
	if !ok {
		return nil
	}
	if pv.isArray || pv.isHash {
		v.fail(name, "is invalid")
		return nil
	}
	s := pv.value
	return &s
}

// resolveAgent is the API's agent check: the ID must name an agent of the
// project that the caller may read (Clusters::AgentsFinder).
func (f *Fake) resolveAgent(u *user, p *project, ch envChange) (*agent, *apiError) {
	// Any integer is looked up, 0 included (it is truthy in Ruby).
	if !ch.setAgent || ch.agentID == nil {
		return nil, nil
	}
	if a := f.visibleAgent(u, p, *ch.agentID); a != nil {
		return a, nil
	}
	return nil, badRequest(agentNotAssociable)
}

// createEnvironment serves POST /projects/:id/environments.
func (f *Fake) createEnvironment(c *call) *apiError {
	v := validator{p: c.p}
	name, _ := v.str("name", true)
	ch := parseEnvChange(&v, true)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityCreateEnvironment, p) {
		return forbidden("")
	}
	ag, err := f.resolveAgent(c.who.user, p, ch)
	if err != nil {
		return err
	}
	e := &environment{project: p, name: name, state: envAvailable}
	if msgs := f.applyEnvChange(e, ch, ag, true); len(msgs) > 0 {
		return messageError(http.StatusBadRequest, msgs)
	}
	now := f.now()
	e.id, e.slug, e.createdAt, e.updatedAt = f.next("environment"), environmentSlug(name), now, now
	p.environments = append(p.environments, e)
	writeJSON(c.w, http.StatusCreated, f.environmentEntity(e, c.who.user, c.base, false))
	return nil
}

// editEnvironment serves PUT /projects/:id/environments/:environment_id.
// GitLab checks update_environment on the project, not on the environment,
// so protected environments do not restrict this route; name is not a
// parameter any more and is ignored.
func (f *Fake) editEnvironment(c *call) *apiError {
	v := validator{p: c.p}
	id, _ := v.integer("environment_id", true)
	ch := parseEnvChange(&v, false)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityUpdateEnvironment, p) {
		return forbidden("")
	}
	e := p.environmentByID(id)
	if e == nil {
		return recordNotFound()
	}
	ag, err := f.resolveAgent(c.who.user, p, ch)
	if err != nil {
		return err
	}
	draft := *e
	if msgs := f.applyEnvChange(&draft, ch, ag, false); len(msgs) > 0 {
		return messageError(http.StatusBadRequest, msgs)
	}
	if draft != *e {
		draft.updatedAt = f.now()
		*e = draft
	}
	writeJSON(c.w, http.StatusOK, f.environmentEntity(e, c.who.user, c.base, false))
	return nil
}

// deleteEnvironment serves DELETE /projects/:id/environments/:environment_id.
// Only a stopped environment may be destroyed, and in EE only by someone it
// is not protected from; its deployments go with it.
func (f *Fake) deleteEnvironment(c *call) *apiError {
	p, e, err := f.findEnvironmentFor(c)
	if err != nil {
		return err
	}
	u := c.who.user
	if !f.can(u, abilityDestroyEnvironment, p) || e.state != envStopped || f.protectedFrom(u, e) {
		return forbidden("")
	}
	if modifiedSince(c.r, e.updatedAt) {
		return messageError(http.StatusPreconditionFailed, "412 Precondition Failed")
	}
	for _, d := range slices.Clone(p.deployments) {
		if d.env == e {
			f.removeDeployment(d)
		}
	}
	p.environments = slices.DeleteFunc(p.environments, func(o *environment) bool { return o == e })
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopEnvironment serves POST /projects/:id/environments/:environment_id/stop.
// The fake's environments have no stop actions, so an available
// environment stops at once when its auto_stop_setting is "always" or
// force is set, and stays available with "with_action".
func (f *Fake) stopEnvironment(c *call) *apiError {
	v := validator{p: c.p}
	force, given := v.boolean("force", false)
	if err := v.err(); err != nil {
		return err
	}
	p, e, err := f.findEnvironmentFor(c)
	if err != nil {
		return err
	}
	u := c.who.user
	if !f.can(u, abilityUpdateEnvironment, p) || f.protectedFrom(u, e) {
		return forbidden("")
	}
	stop := e.state == envAvailable && e.autoStopSetting == autoStopAlways
	if given && force {
		stop = e.state == envAvailable || e.state == envStopping
	}
	if stop {
		e.state, e.autoStopAt, e.updatedAt = envStopped, time.Time{}, f.now()
	}
	writeJSON(c.w, http.StatusOK, f.environmentEntity(e, u, c.base, false))
	return nil
}

// matchesSearch is for_name_like unioned with for_name_like_within_folder.
func (e *environment) matchesSearch(q string) bool {
	q = strings.ToLower(q)
	name := strings.ToLower(e.name)
	inFolder := strings.TrimPrefix(name, strings.ToLower(e.environmentType())+"/")
	return strings.HasPrefix(name, q) || (e.environmentType() != "" && strings.HasPrefix(inFolder, q))
}
