package gitlabtest

import "strings"

// environmentEntity is API::Entities::Environment. The agent keys are
// exposed only when the environment has an agent the caller may read. GET
// of one environment (withLast) adds last_deployment and leaves out
// project.
func (f *Fake) environmentEntity(e *environment, u *user, base string, withLast bool) map[string]any {
	out := map[string]any{
		"id": e.id, "name": e.name, "slug": e.slug, "external_url": nullable(e.externalURL),
		"created_at": apiTime(e.createdAt), "updated_at": apiTime(e.updatedAt), "tier": e.tier,
		"project": projectDetails(e.project, base), "state": e.state, "auto_stop_at": apiTime(e.autoStopAt),
		"description": nullable(e.description), "auto_stop_setting": e.autoStopSetting,
	}
	if e.clusterAgent != nil && f.can(u, abilityReadClusterAgent, e.clusterAgent.project) {
		out["cluster_agent"] = agentEntity(e.clusterAgent)
		out["kubernetes_namespace"] = nullable(e.kubernetesNamespace)
		out["flux_resource_path"] = nullable(e.fluxResourcePath)
	}
	if withLast {
		var last any
		if d := lastDeployment(e); d != nil {
			dj := f.deploymentJSON(d, base)
			last = deploymentWithoutEnvironment{
				ID: dj.ID, IID: dj.IID, Ref: dj.Ref, SHA: dj.SHA, CreatedAt: dj.CreatedAt, UpdatedAt: dj.UpdatedAt,
				User: dj.User, Deployable: dj.Deployable, Status: dj.Status,
			}
		}
		out["last_deployment"] = last
		delete(out, "project")
	}
	return out
}

// deploymentWithoutEnvironment is Entities::Deployment with the
// environment left out, as nested in an environment.
type deploymentWithoutEnvironment struct {
	ID         int64          `json:"id"`
	IID        int64          `json:"iid"`
	Ref        string         `json:"ref"`
	SHA        string         `json:"sha"`
	CreatedAt  apiTime        `json:"created_at"`
	UpdatedAt  apiTime        `json:"updated_at"`
	User       *userBasicJSON `json:"user"`
	Deployable *jobJSON       `json:"deployable"`
	Status     string         `json:"status"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// projectDetailsJSON is the part of API::Entities::BasicProjectDetails the
// fake can fill.
type projectDetailsJSON struct {
	ID                int64         `json:"id"`
	Description       *string       `json:"description"`
	Name              string        `json:"name"`
	NameWithNamespace string        `json:"name_with_namespace"`
	Path              string        `json:"path"`
	PathWithNamespace string        `json:"path_with_namespace"`
	CreatedAt         apiTime       `json:"created_at"`
	DefaultBranch     string        `json:"default_branch"`
	TagList           []string      `json:"tag_list"`
	Topics            []string      `json:"topics"`
	SSHURLToRepo      string        `json:"ssh_url_to_repo"`
	HTTPURLToRepo     string        `json:"http_url_to_repo"`
	WebURL            string        `json:"web_url"`
	ReadmeURL         *string       `json:"readme_url"`
	ForksCount        int           `json:"forks_count"`
	AvatarURL         *string       `json:"avatar_url"`
	StarCount         int           `json:"star_count"`
	LastActivityAt    apiTime       `json:"last_activity_at"`
	Namespace         namespaceJSON `json:"namespace"`
}

type namespaceJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Kind      string  `json:"kind"`
	FullPath  string  `json:"full_path"`
	ParentID  *int64  `json:"parent_id"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

func projectDetails(p *project, base string) projectDetailsJSON {
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	ns := namespaceJSON{ID: p.namespace.id, Name: p.namespace.name, Path: p.namespace.path(), Kind: "group",
		FullPath: p.namespace.fullPath, WebURL: base + "/groups/" + p.namespace.fullPath}
	if p.namespace.parent != nil {
		ns.ParentID = &p.namespace.parent.id
	}
	return projectDetailsJSON{ID: p.id, Description: nullable(p.description), Name: p.name,
		NameWithNamespace: p.nameWithNamespace(), Path: p.path(), PathWithNamespace: p.fullPath,
		DefaultBranch: p.defaultBranch, TagList: []string{}, Topics: []string{},
		SSHURLToRepo:  "git@" + host + ":" + p.fullPath + ".git",
		HTTPURLToRepo: base + "/" + p.fullPath + ".git", WebURL: base + "/" + p.fullPath, Namespace: ns}
}

// nameWithNamespace is "Group / Subgroup / project".
func (p *project) nameWithNamespace() string {
	var names []string
	for g := p.namespace; g != nil; g = g.parent {
		names = append([]string{g.name}, names...)
	}
	return strings.Join(append(names, p.name), " / ")
}

func (g *group) path() string {
	return g.fullPath[strings.LastIndex(g.fullPath, "/")+1:]
}
