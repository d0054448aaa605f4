package gitlabtest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// dnsLabel is Gitlab::Regex.cluster_agent_name_regex and
// kubernetes_namespace_regex.
var dnsLabel = regexp.MustCompile(`\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\z`)

// AgentSpec seeds a GitLab agent for Kubernetes registered in a project.
type AgentSpec struct {
	// Project is the agent's configuration project (ID or full path).
	Project string `json:"project"`
	// Name is the agent's name: lowercase letters, digits and '-', at
	// most 63 characters, unique in the project.
	Name string `json:"name"`
	// ID is the agent's ID; assigned when 0.
	ID int64 `json:"id,omitempty"`
	// CreatedBy is the username that registered the agent; the project's
	// first member by default.
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// AddAgent registers a GitLab agent for Kubernetes in a project and
// returns its ID.
func (f *Fake) AddAgent(s AgentSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(s.Project)
	if err != nil {
		return 0, err
	}
	if !dnsLabel.MatchString(s.Name) || len(s.Name) > maxNamespaceLength {
		return 0, fmt.Errorf("%w: agent name %q: lowercase letters, digits and '-', at most 63 characters", ErrInvalid, s.Name)
	}
	for _, a := range p.agents {
		if a.name == s.Name {
			return 0, fmt.Errorf("%w: agent %q already exists in %s", ErrInvalid, s.Name, p.fullPath)
		}
	}
	by := p.firstMember(f)
	if s.CreatedBy != "" {
		if by, err = f.userNamed(s.CreatedBy); err != nil {
			return 0, err
		}
	}
	created := s.CreatedAt.UTC()
	if created.IsZero() {
		created = f.now()
	}
	a := &agent{id: f.claimID("cluster_agent", s.ID), project: p, name: s.Name, createdBy: by, createdAt: created}
	p.agents = append(p.agents, a)
	return a.id, nil
}

// visibleAgent is Clusters::AgentsFinder#execute.find_by_id: an agent of
// the project, for a caller who may read the project's agents.
func (f *Fake) visibleAgent(u *user, p *project, id int64) *agent {
	if !f.can(u, abilityReadClusterAgent, p) {
		return nil
	}
	for _, a := range p.agents {
		if a.id == id {
			return a
		}
	}
	return nil
}

// listAgents serves GET /projects/:id/cluster_agents.
func (f *Fake) listAgents(c *call) *apiError {
	v := validator{p: c.p}
	pr := parsePage(&v)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityReadCluster, p) {
		return messageError(http.StatusNotFound, "404 ClusterAgents Not Found")
	}
	start, end := pr.window(len(p.agents))
	out := make([]agentJSON, 0, end-start)
	for _, a := range p.agents[start:end] {
		out = append(out, agentEntity(a))
	}
	pr.setHeaders(c, len(p.agents))
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// getAgent serves GET /projects/:id/cluster_agents/:agent_id.
func (f *Fake) getAgent(c *call) *apiError {
	v := validator{p: c.p}
	id, _ := v.integer("agent_id", true)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	a := f.visibleAgent(c.who.user, p, id)
	if a == nil {
		return recordNotFound()
	}
	writeJSON(c.w, http.StatusOK, agentEntity(a))
	return nil
}

// agentJSON is API::Entities::Clusters::Agent.
type agentJSON struct {
	ID              int64             `json:"id"`
	Name            string            `json:"name"`
	ConfigProject   projectIdentityJS `json:"config_project"`
	CreatedAt       apiTime           `json:"created_at"`
	CreatedByUserID *int64            `json:"created_by_user_id"`
}

// projectIdentityJS is API::Entities::ProjectIdentity.
type projectIdentityJS struct {
	ID                int64   `json:"id"`
	Description       *string `json:"description"`
	Name              string  `json:"name"`
	NameWithNamespace string  `json:"name_with_namespace"`
	Path              string  `json:"path"`
	PathWithNamespace string  `json:"path_with_namespace"`
	CreatedAt         apiTime `json:"created_at"`
}

func agentEntity(a *agent) agentJSON {
	p := a.project
	out := agentJSON{ID: a.id, Name: a.name, CreatedAt: apiTime(a.createdAt),
		ConfigProject: projectIdentityJS{ID: p.id, Description: nullable(p.description), Name: p.name,
			NameWithNamespace: p.nameWithNamespace(), Path: p.path(), PathWithNamespace: p.fullPath}}
	if a.createdBy != nil {
		out.CreatedByUserID = &a.createdBy.id
	}
	return out
}

// agentNamed finds an agent of a project by name.
func (p *project) agentNamed(name string) *agent {
	for _, a := range p.agents {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}
