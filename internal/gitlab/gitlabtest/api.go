package gitlabtest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Endpoint names as they appear in the request log and in faults.
const (
	EndpointList          = "GET /projects/:id/deployments"
	EndpointGet           = "GET /projects/:id/deployments/:deployment_id"
	EndpointCreate        = "POST /projects/:id/deployments"
	EndpointUpdate        = "PUT /projects/:id/deployments/:deployment_id"
	EndpointDelete        = "DELETE /projects/:id/deployments/:deployment_id"
	EndpointMergeRequests = "GET /projects/:id/deployments/:deployment_id/merge_requests"
	EndpointApproval      = "POST /projects/:id/deployments/:deployment_id/approval"
	// Environments API.
	EndpointEnvironmentList   = "GET /projects/:id/environments"
	EndpointEnvironmentGet    = "GET /projects/:id/environments/:environment_id"
	EndpointEnvironmentCreate = "POST /projects/:id/environments"
	EndpointEnvironmentEdit   = "PUT /projects/:id/environments/:environment_id"
	EndpointEnvironmentDelete = "DELETE /projects/:id/environments/:environment_id"
	EndpointEnvironmentStop   = "POST /projects/:id/environments/:environment_id/stop"
	// Cluster agents API.
	EndpointAgentList = "GET /projects/:id/cluster_agents"
	EndpointAgentGet  = "GET /projects/:id/cluster_agents/:agent_id"
	// Users API.
	EndpointCurrentUser = "GET /user"
	// EndpointUnknown names any request GitLab has no route for.
	EndpointUnknown = "UNKNOWN"
)

// route is a matched API route.
type route struct {
	endpoint     string
	projectID    string // decoded :id
	rawProjectID string // :id as sent
	deploymentID string // :deployment_id as sent
	// subParam and subID are the route's second path parameter other than
	// :deployment_id (:environment_id or :agent_id) and its value as sent.
	subParam, subID string
}

// matchRoute matches an escaped path below /api/v4.
func matchRoute(method, path string) route {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if strings.Trim(path, "/") == "user" && method == http.MethodGet {
		return route{endpoint: EndpointCurrentUser}
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 3 || segs[0] != "projects" || segs[1] == "" {
		return route{endpoint: EndpointUnknown}
	}
	id, err := url.PathUnescape(segs[1])
	if err != nil {
		return route{endpoint: EndpointUnknown}
	}
	rt := route{projectID: id, rawProjectID: id}
	rest := segs[3:]
	switch segs[2] {
	case "deployments":
		matchDeploymentRoute(&rt, method, rest)
	case "environments":
		matchEnvironmentRoute(&rt, method, rest)
	case "cluster_agents":
		switch {
		case len(rest) == 0 && method == http.MethodGet:
			rt.endpoint = EndpointAgentList
		case len(rest) == 1 && rest[0] != "" && method == http.MethodGet:
			rt.endpoint, rt.subParam, rt.subID = EndpointAgentGet, "agent_id", rest[0]
		}
	}
	if rt.endpoint == "" {
		rt.endpoint = EndpointUnknown
	}
	return rt
}

func matchDeploymentRoute(rt *route, method string, rest []string) {
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		rt.endpoint = EndpointList
	case len(rest) == 0 && method == http.MethodPost:
		rt.endpoint = EndpointCreate
	case len(rest) == 1 && rest[0] != "":
		rt.deploymentID = rest[0]
		rt.endpoint = map[string]string{
			http.MethodGet: EndpointGet, http.MethodPut: EndpointUpdate, http.MethodDelete: EndpointDelete,
		}[method]
	case len(rest) == 2 && rest[1] == "merge_requests" && method == http.MethodGet:
		rt.deploymentID, rt.endpoint = rest[0], EndpointMergeRequests
	case len(rest) == 2 && rest[1] == "approval" && method == http.MethodPost:
		rt.deploymentID, rt.endpoint = rest[0], EndpointApproval
	}
}

// matchEnvironmentRoute matches the Environments API routes the fake
// serves. GitLab's review_apps and stop_stale routes, which rollgate never
// calls, are not served (404).
func matchEnvironmentRoute(rt *route, method string, rest []string) {
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		rt.endpoint = EndpointEnvironmentList
	case len(rest) == 0 && method == http.MethodPost:
		rt.endpoint = EndpointEnvironmentCreate
	case len(rest) == 1 && rest[0] != "" && rest[0] != "review_apps" && rest[0] != "stop_stale":
		rt.subParam, rt.subID = "environment_id", rest[0]
		rt.endpoint = map[string]string{
			http.MethodGet: EndpointEnvironmentGet, http.MethodPut: EndpointEnvironmentEdit,
			http.MethodDelete: EndpointEnvironmentDelete,
		}[method]
	case len(rest) == 2 && rest[0] != "" && rest[1] == "stop" && method == http.MethodPost:
		rt.subParam, rt.subID, rt.endpoint = "environment_id", rest[0], EndpointEnvironmentStop
	}
}

// call is one API request being served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	p     params
	route route
	who   *principal
	base  string
}

type handler func(f *Fake, c *call) *apiError

var handlers = map[string]handler{
	EndpointList:          (*Fake).listDeployments,
	EndpointGet:           (*Fake).getDeployment,
	EndpointCreate:        (*Fake).createDeployment,
	EndpointUpdate:        (*Fake).updateDeployment,
	EndpointDelete:        (*Fake).deleteDeployment,
	EndpointMergeRequests: (*Fake).listDeploymentMergeRequests,
	EndpointApproval:      (*Fake).approveDeployment,

	EndpointEnvironmentList:   (*Fake).listEnvironments,
	EndpointEnvironmentGet:    (*Fake).getEnvironment,
	EndpointEnvironmentCreate: (*Fake).createEnvironment,
	EndpointEnvironmentEdit:   (*Fake).editEnvironment,
	EndpointEnvironmentDelete: (*Fake).deleteEnvironment,
	EndpointEnvironmentStop:   (*Fake).stopEnvironment,
	EndpointAgentList:         (*Fake).listAgents,
	EndpointAgentGet:          (*Fake).getAgent,
	EndpointCurrentUser:       (*Fake).currentUser,
}

// currentUser is GET /user: the authenticated user (API::Users). A CI job
// token is not accepted on this route.
func (f *Fake) currentUser(c *call) *apiError {
	writeJSON(c.w, http.StatusOK, userFull(c.who.user, c.base))
	return nil
}

// serveAPI serves one REST request; the caller has applied faults and
// rate limits.
func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request, rt route) {
	h := handlers[rt.endpoint]
	if h == nil || (rt.endpoint == EndpointApproval && f.cfg.community) {
		writeJSON(w, http.StatusNotFound, map[string]string{keyError: "404 Not Found"})
		return
	}
	p, perr := parseParams(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p["id"] = param{value: rt.rawProjectID}
	if rt.deploymentID != "" {
		p["deployment_id"] = param{value: rt.deploymentID}
	}
	if rt.subParam != "" {
		p[rt.subParam] = param{value: rt.subID}
	}
	c := &call{w: w, r: r, p: p, route: rt, base: f.base(r)}
	who, aerr := f.authenticate(c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	c.who = who
	if err := h(f, c); err != nil {
		writeError(w, err)
	}
}

// findProject is find_project!: the project by ID or full path, readable
// by the caller, with job-token scope and policies enforced.
func (f *Fake) findProject(c *call) (*project, *apiError) {
	p := f.lookupProject(c.route.projectID)
	if p == nil {
		return nil, projectNotFound()
	}
	u := c.who.user
	jobCross := c.who.jobSource != nil && c.who.jobSource != p
	_, allowlisted := p.jobTokenAllowlist[sourceID(c.who.jobSource)]
	if !f.canReadProject(u, p) || (jobCross && !allowlisted) {
		if c.who.jobSource != nil {
			return nil, forbidden("Authentication by CI/CD job token not allowed from " +
				c.who.jobSource.path() + " to " + p.path() + ".")
		}
		return nil, projectNotFound()
	}
	if jobCross {
		if err := checkJobTokenPolicies(p, p.jobTokenAllowlist[c.who.jobSource.id], c.route.endpoint); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func sourceID(p *project) int64 {
	if p == nil {
		return 0
	}
	return p.id
}

// jobTokenPolicies are the fine-grained job-token policies of each route.
var jobTokenPolicies = map[string][]string{
	EndpointList:          {policyReadDeployments},
	EndpointGet:           {policyReadDeployments},
	EndpointMergeRequests: {policyReadDeployments},
	EndpointCreate:        {policyAdminDeployments, policyAdminEnvironments},
	EndpointUpdate:        {policyAdminDeployments},
	EndpointDelete:        {policyAdminDeployments},
	EndpointApproval:      {policyAdminDeployments},

	EndpointEnvironmentList:   {policyReadEnvironments},
	EndpointEnvironmentGet:    {policyReadEnvironments},
	EndpointEnvironmentCreate: {policyAdminEnvironments},
	EndpointEnvironmentEdit:   {policyAdminEnvironments},
	EndpointEnvironmentDelete: {policyAdminEnvironments},
	EndpointEnvironmentStop:   {policyAdminEnvironments},
	// The cluster agents API does not accept job tokens at all.
}

// checkJobTokenPolicies enforces an allowlist entry's policies; nil
// granted means the entry carries no fine-grained policies.
func checkJobTokenPolicies(p *project, granted []string, endpoint string) *apiError {
	if granted == nil {
		return nil
	}
	required := jobTokenPolicies[endpoint]
	for _, need := range required {
		admin := strings.Replace(need, "read_", "admin_", 1)
		if !slices.Contains(granted, need) && !slices.Contains(granted, admin) {
			return forbidden(policyMessage(p, required))
		}
	}
	return nil
}

func policyMessage(p *project, required []string) string {
	if len(required) == 1 {
		return "Insufficient permissions to access this resource in project " + p.path() +
			". The following token permission is required: " + required[0] + "."
	}
	return "Insufficient permissions to access this resource in project " + p.path() +
		". The following token permissions are required: " + strings.Join(required, " and ") + "."
}

// lookupProject finds a project by numeric ID or full path.
func (f *Fake) lookupProject(id string) *project {
	if isDigits(id) {
		return f.projectsByID[leadingInt(id)]
	}
	if !strings.Contains(id, "/") {
		return nil
	}
	return f.projectsPath[strings.ToLower(id)]
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
