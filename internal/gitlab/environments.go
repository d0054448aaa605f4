package gitlab

import (
	"context"
	"net/http"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// Environment tiers, as GitLab spells them.
const (
	TierProduction  = "production"
	TierStaging     = "staging"
	TierTesting     = "testing"
	TierDevelopment = "development"
	TierOther       = "other"
)

// Environment is one GitLab environment and the metadata rollgate manages.
type Environment struct {
	// ID is the environment's ID, used in API paths.
	ID int64
	// Name is the environment's name, e.g. "production/eu-1".
	Name string
	// Slug is GitLab's URL- and DNS-safe form of the name.
	Slug string
	// State is available, stopping or stopped.
	State string
	// Tier is one of the Tier* constants. GitLab guesses it from the name
	// when nobody set it, so it is never empty.
	Tier string
	// ExternalURL is where GitLab's "Open" button leads; empty if unset.
	ExternalURL string
	// Description is the environment's description; empty if unset.
	Description string
	// ClusterAgent is the GitLab agent the environment is linked to. GitLab
	// shows it, KubernetesNamespace and FluxResourcePath only to tokens
	// that may read the project's agents (Developer and above): for other
	// tokens all three are empty even when set.
	ClusterAgent *Agent
	// KubernetesNamespace is the namespace GitLab's dashboard shows.
	KubernetesNamespace string
	// FluxResourcePath is the Flux resource the dashboard follows, e.g.
	// helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop.
	FluxResourcePath string
	// UpdatedAt is when GitLab last changed the environment.
	UpdatedAt time.Time
}

// Agent is a GitLab agent for Kubernetes.
type Agent struct {
	// ID is the agent's ID, the value of an environment's cluster_agent_id.
	ID int64
	// Name is the agent's name, unique in its configuration project.
	Name string
	// ConfigProject is the full path of the project the agent is
	// registered in.
	ConfigProject string
}

// EnvironmentEdit is a change to an environment's metadata. A nil field is
// not sent and GitLab leaves it alone; a field pointing at "" clears the
// value (GitLab stores blank strings as null). The name cannot be changed.
type EnvironmentEdit struct {
	Tier                *string
	ExternalURL         *string
	ClusterAgentID      *int64
	KubernetesNamespace *string
	FluxResourcePath    *string
	Description         *string
}

// IsZero reports an edit that changes nothing.
func (e EnvironmentEdit) IsZero() bool { return e == EnvironmentEdit{} }

// MergeRequest is a merge request GitLab linked to a deployment.
type MergeRequest struct {
	// IID is the per-project number shown as !IID.
	IID int64
	// Title is the merge request's title.
	Title string
	// WebURL is the merge request's page.
	WebURL string
	// State is merged, closed, opened or locked.
	State string
}

// MergeRequestList is the first part of a deployment's merge requests.
type MergeRequestList struct {
	// Items are at most the requested number of merge requests, newest
	// first (GitLab's default order, by creation).
	Items []MergeRequest
	// Total is how many merge requests are linked in all, from X-Total.
	// GitLab omits it above 10,000; then Total is len(Items) and
	// TotalExact is false.
	Total int
	// TotalExact says whether Total is GitLab's count.
	TotalExact bool
}

// environmentEntityJSON decodes GitLab's Environment entity.
type environmentEntityJSON struct {
	ID                  int64        `json:"id"`
	Name                string       `json:"name"`
	Slug                string       `json:"slug"`
	State               string       `json:"state"`
	Tier                string       `json:"tier"`
	ExternalURL         *string      `json:"external_url"`
	Description         *string      `json:"description"`
	ClusterAgent        *agentEntity `json:"cluster_agent"`
	KubernetesNamespace *string      `json:"kubernetes_namespace"`
	FluxResourcePath    *string      `json:"flux_resource_path"`
	UpdatedAt           *time.Time   `json:"updated_at"`
}

type agentEntity struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	ConfigProject struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"config_project"`
}

func (a *agentEntity) toAgent() *Agent {
	if a == nil {
		return nil
	}
	return &Agent{ID: a.ID, Name: a.Name, ConfigProject: a.ConfigProject.PathWithNamespace}
}

func (e *environmentEntityJSON) toEnvironment() *Environment {
	out := &Environment{ID: e.ID, Name: e.Name, Slug: e.Slug, State: e.State, Tier: e.Tier,
		ExternalURL: deref(e.ExternalURL), Description: deref(e.Description), ClusterAgent: e.ClusterAgent.toAgent(),
		KubernetesNamespace: deref(e.KubernetesNamespace), FluxResourcePath: deref(e.FluxResourcePath)}
	if e.UpdatedAt != nil {
		out.UpdatedAt = e.UpdatedAt.UTC()
	}
	return out
}

type mergeRequestEntity struct {
	IID    int64  `json:"iid"`
	Title  string `json:"title"`
	WebURL string `json:"web_url"`
	State  string `json:"state"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pageQuery is the offset pagination query of list calls.
type pageQuery struct {
	Page    int64   `url:"page,omitempty"`
	PerPage int64   `url:"per_page,omitempty"`
	Name    *string `url:"name,omitempty"`
}

// GetEnvironmentByName implements Client.
func (a *adapter) GetEnvironmentByName(ctx context.Context, project, name string) (*Environment, error) {
	const op = "get environment"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, &Error{Class: Terminal, Op: op, Message: "environment name is empty"}
	}
	// name is an exact filter: GitLab returns at most one environment.
	var batch []environmentEntityJSON
	q := &pageQuery{Page: 1, PerPage: 2, Name: &name}
	if _, err := a.do(ctx, op, http.MethodGet, environmentsPath(project), q, &batch); err != nil {
		return nil, err
	}
	for i := range batch {
		if batch[i].Name == name {
			return batch[i].toEnvironment(), nil
		}
	}
	return nil, nil
}

// EditEnvironment implements Client.
func (a *adapter) EditEnvironment(ctx context.Context, project string, id int64, edit EnvironmentEdit) (*Environment, error) {
	const op = "edit environment"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	if edit.IsZero() {
		return nil, &Error{Class: Terminal, Op: op, Message: "the edit changes nothing"}
	}
	body := &gl.EditEnvironmentOptions{
		Tier: edit.Tier, ExternalURL: edit.ExternalURL, ClusterAgentID: edit.ClusterAgentID,
		KubernetesNamespace: edit.KubernetesNamespace, FluxResourcePath: edit.FluxResourcePath,
		Description: edit.Description,
	}
	var out environmentEntityJSON
	path := environmentsPath(project) + "/" + strconv.FormatInt(id, 10)
	if _, err := a.do(ctx, op, http.MethodPut, path, body, &out); err != nil {
		return nil, err
	}
	return out.toEnvironment(), nil
}

// ResolveAgent implements Client.
func (a *adapter) ResolveAgent(ctx context.Context, project, ref string) (*Agent, error) {
	const op = "resolve agent"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	if ref == "" {
		return nil, &Error{Class: Terminal, Op: op, Message: "agent is empty; give its name or numeric ID"}
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		var out agentEntity
		if _, err := a.do(ctx, op, http.MethodGet, agentsPath(project)+"/"+ref, nil, &out); err != nil {
			return nil, err
		}
		return out.toAgent(), nil
	}
	for page := int64(1); ; {
		var batch []agentEntity
		resp, err := a.do(ctx, op, http.MethodGet, agentsPath(project), &pageQuery{Page: page, PerPage: defaultPerPage}, &batch)
		if err != nil {
			return nil, err
		}
		for i := range batch {
			if batch[i].Name == ref {
				return batch[i].toAgent(), nil
			}
		}
		if resp.NextPage <= page || len(batch) == 0 {
			return nil, &Error{Class: Terminal, Op: op, StatusCode: http.StatusNotFound,
				Message: "no agent named " + strconv.Quote(ref) + " is registered in project " + project}
		}
		page = resp.NextPage
	}
}

// ListDeploymentMergeRequests implements Client.
func (a *adapter) ListDeploymentMergeRequests(ctx context.Context, project string, deploymentID int64, maxItems int) (*MergeRequestList, error) {
	const op = "list deployment merge requests"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	perPage := int64(min(max(maxItems, 1), defaultPerPage))
	out := &MergeRequestList{Items: []MergeRequest{}}
	path := deploymentPath(project, deploymentID) + "/merge_requests"
	for page := int64(1); ; {
		var batch []mergeRequestEntity
		resp, err := a.do(ctx, op, http.MethodGet, path, &pageQuery{Page: page, PerPage: perPage}, &batch)
		if err != nil {
			return nil, err
		}
		if page == 1 {
			out.Total, out.TotalExact = int(resp.TotalItems), resp.Header.Get("X-Total") != ""
		}
		for _, mr := range batch {
			if len(out.Items) == maxItems {
				break
			}
			out.Items = append(out.Items, MergeRequest(mr))
		}
		if len(out.Items) >= maxItems || resp.NextPage <= page || len(batch) == 0 {
			break
		}
		page = resp.NextPage
	}
	if !out.TotalExact {
		out.Total = len(out.Items)
	}
	return out, nil
}

func environmentsPath(project string) string {
	return "projects/" + gl.PathEscape(project) + "/environments"
}

func agentsPath(project string) string {
	return "projects/" + gl.PathEscape(project) + "/cluster_agents"
}
