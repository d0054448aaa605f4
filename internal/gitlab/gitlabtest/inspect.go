package gitlabtest

import (
	"fmt"
	"time"
)

// Deployment is a snapshot of a deployment for inspection from Go.
type Deployment struct {
	ID          int64     `json:"id"`
	IID         int64     `json:"iid"`
	ProjectID   int64     `json:"project_id"`
	Environment string    `json:"environment"`
	Ref         string    `json:"ref"`
	SHA         string    `json:"sha"`
	Tag         bool      `json:"tag"`
	Status      string    `json:"status"`
	User        string    `json:"user,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	// JobID is the CI job of the deployment, 0 for API deployments.
	JobID                int64      `json:"job_id,omitempty"`
	PendingApprovalCount int        `json:"pending_approval_count"`
	Approvals            []Approval `json:"approvals"`
	MergeRequestIDs      []int64    `json:"merge_request_ids"`
}

// Approval is a snapshot of a deployment approval.
type Approval struct {
	User    string `json:"user"`
	Status  string `json:"status"`
	Comment string `json:"comment,omitempty"`
	// Rule is the humanized approval rule, empty for the legacy setting.
	Rule      string    `json:"rule,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Environment is a snapshot of an environment.
type Environment struct {
	ID                  int64     `json:"id"`
	Name                string    `json:"name"`
	Slug                string    `json:"slug"`
	Tier                string    `json:"tier"`
	State               string    `json:"state"`
	ExternalURL         string    `json:"external_url,omitempty"`
	ClusterAgentID      int64     `json:"cluster_agent_id,omitempty"`
	KubernetesNamespace string    `json:"kubernetes_namespace,omitempty"`
	FluxResourcePath    string    `json:"flux_resource_path,omitempty"`
	Description         string    `json:"description,omitempty"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func (f *Fake) snapshot(d *deployment) Deployment {
	out := Deployment{ID: d.id, IID: d.iid, ProjectID: d.project.id, Environment: d.env.name, Ref: d.ref,
		SHA: d.sha, Tag: d.tag, Status: d.status, CreatedAt: d.createdAt, UpdatedAt: d.updatedAt,
		FinishedAt: d.finishedAt, PendingApprovalCount: f.pendingApprovalCount(d),
		Approvals: []Approval{}, MergeRequestIDs: []int64{}}
	if d.user != nil {
		out.User = d.user.username
	}
	if d.job != nil {
		out.JobID = d.job.id
	}
	for _, a := range d.approvals {
		ap := Approval{User: a.user.username, Status: a.status, Comment: a.comment, CreatedAt: a.createdAt}
		if a.rule != nil {
			ap.Rule = humanizeRule(&a.rule.accessRule)
		}
		out.Approvals = append(out.Approvals, ap)
	}
	for _, mr := range d.mergeRequests {
		out.MergeRequestIDs = append(out.MergeRequestIDs, mr.id)
	}
	return out
}

// Deployments returns a project's deployments in ID order; with a
// non-empty environment, only that environment's.
func (f *Fake) Deployments(projectID, environment string) ([]Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return nil, err
	}
	out := []Deployment{}
	for _, d := range p.deployments {
		if environment == "" || d.env.name == environment {
			out = append(out, f.snapshot(d))
		}
	}
	return out, nil
}

// Deployment returns one deployment by ID.
func (f *Fake) Deployment(id int64) (Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.deployByID[id]
	if d == nil {
		return Deployment{}, fmt.Errorf("%w: deployment %d", ErrNotFound, id)
	}
	return f.snapshot(d), nil
}

// Environments returns a project's environments.
func (f *Fake) Environments(projectID string) ([]Environment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return nil, err
	}
	out := []Environment{}
	for _, e := range p.environments {
		env := Environment{ID: e.id, Name: e.name, Slug: e.slug, Tier: e.tier, State: e.state,
			ExternalURL: e.externalURL, KubernetesNamespace: e.kubernetesNamespace,
			FluxResourcePath: e.fluxResourcePath, Description: e.description, UpdatedAt: e.updatedAt}
		if e.clusterAgent != nil {
			env.ClusterAgentID = e.clusterAgent.id
		}
		out = append(out, env)
	}
	return out, nil
}
