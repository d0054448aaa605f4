// Package gitlab is rollgate's only door to GitLab. It exposes the few
// Deployments API calls the controllers make behind the Client interface,
// returns plain domain types, classifies every failure once (see Class), and
// hands out clients through a Registry that shares a rate limit and a 429
// back-off gate per GitLab host. GitLab SDK types never leave this package.
package gitlab

import (
	"context"
	"time"
)

// Deployment statuses, as GitLab spells them.
const (
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusSuccess  = "success"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusBlocked  = "blocked"
	StatusSkipped  = "skipped"
)

// Approval statuses, as GitLab spells them.
const (
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
)

// Client is the subset of GitLab's Deployments API that rollgate uses.
//
// project is a numeric project ID ("42") or a full path ("group/app").
// Every error returned is an *Error; use ClassOf, IsNotFound and the other
// helpers in errors.go to decide what to do next.
//
//nolint:dupl // FakeClient mirrors it, one function field per method
type Client interface {
	// CreateDeployment records a new deployment (POST). It is never retried
	// by the client itself: a failure after the request may have reached
	// GitLab must be resolved by listing and adopting the record.
	CreateDeployment(ctx context.Context, project string, opts CreateOptions) (*Deployment, error)

	// UpdateDeploymentStatus moves a deployment to status (PUT). GitLab
	// answers a same-status or illegal transition with a 400 that
	// IsConflictingTransition recognises.
	UpdateDeploymentStatus(ctx context.Context, project string, id int64, status string) (*Deployment, error)

	// GetDeployment reads one deployment, including its approval state.
	GetDeployment(ctx context.Context, project string, id int64) (*Deployment, error)

	// ListDeployments lists a project's deployments, following pagination
	// until the last page or opts.MaxItems. Approval fields are not filled:
	// GitLab's list entity does not carry them.
	ListDeployments(ctx context.Context, project string, opts ListOptions) ([]Deployment, error)

	// GetEnvironmentByName reads the environment with exactly this name
	// (GET /environments?name=). It returns nil and no error when the
	// project has no such environment: GitLab creates it with the first
	// deployment record.
	GetEnvironmentByName(ctx context.Context, project, name string) (*Environment, error)

	// EditEnvironment changes an environment's metadata (PUT), sending
	// only the fields the edit sets. An empty edit is a Terminal error and
	// sends nothing. An unknown or foreign agent ID is a 400 ("cluster
	// agent doesn't exist or cannot be associated with this environment");
	// a namespace without an agent, or a Flux resource path without a
	// namespace, is a 400 naming the field.
	EditEnvironment(ctx context.Context, project string, id int64, edit EnvironmentEdit) (*Environment, error)

	// ResolveAgent finds a GitLab agent registered in the project by its
	// numeric ID (GET /cluster_agents/:id) or by its name (listing the
	// project's agents). An agent that does not exist, or a token that may
	// not read the project's agents (below Developer), gives an error for
	// which IsNotFound is true.
	ResolveAgent(ctx context.Context, project, ref string) (*Agent, error)

	// ListDeploymentMergeRequests reads the merge requests GitLab linked to
	// a deployment when it succeeded, at most maxItems of them (newest
	// first), and how many there are in all. With maxItems up to 100 it is
	// one request. GitLab answers an empty list, not a 404, for a
	// deployment that does not exist.
	ListDeploymentMergeRequests(ctx context.Context, project string, deploymentID int64, maxItems int) (*MergeRequestList, error)

	// CurrentUser returns the username of the token's user (GET /user),
	// the user GitLab shows as the creator of the records this client
	// makes. It is read once per client and remembered.
	CurrentUser(ctx context.Context) (string, error)
}

// CreateOptions are the fields of a new deployment record. All are sent;
// GitLab requires every one of them.
type CreateOptions struct {
	// Environment is the environment name; GitLab creates it if missing.
	Environment string
	// Ref is the branch or tag the commit was built from.
	Ref string
	// SHA is the full commit SHA.
	SHA string
	// Tag says whether Ref is a tag.
	Tag bool
	// Status is the initial status: running, success, failed or canceled.
	Status string
}

// ListOptions filter and order ListDeployments. Zero values are not sent.
type ListOptions struct {
	// Environment restricts the list to one environment name.
	Environment string
	// Status restricts the list to one status.
	Status string
	// OrderBy is id, iid, created_at, updated_at or finished_at (GitLab's
	// default is id). It is set to updated_at when UpdatedAfter or
	// UpdatedBefore is given and OrderBy is empty, as GitLab requires.
	OrderBy string
	// Sort is asc or desc (GitLab's default is asc).
	Sort string
	// UpdatedAfter keeps deployments updated at or after this time.
	UpdatedAfter time.Time
	// UpdatedBefore keeps deployments updated at or before this time.
	UpdatedBefore time.Time
	// PerPage is the page size; 0 means 100, GitLab's maximum.
	PerPage int
	// MaxItems stops paging once this many deployments were collected;
	// 0 means no limit.
	MaxItems int
}

// Deployment is one GitLab deployment record.
type Deployment struct {
	// ID is the instance-wide deployment ID used in API paths.
	ID int64
	// IID is the per-project sequence number shown in GitLab's UI.
	IID int64
	// Status is one of the Status* constants.
	Status string
	// Ref is the branch or tag.
	Ref string
	// SHA is the commit SHA.
	SHA string
	// Environment is the environment name.
	Environment string
	// EnvironmentID is the environment's ID.
	EnvironmentID int64
	// CreatedAt is when GitLab created the record.
	CreatedAt time.Time
	// UpdatedAt is when GitLab last changed the record.
	UpdatedAt time.Time
	// User is the username of the user who created the record.
	User string
	// Deployable is the CI job behind the deployment; nil for records
	// created through the API.
	Deployable *Job
	// PendingApprovalCount is the number of approvals still required,
	// summed per rule. Zero unless the environment is protected.
	PendingApprovalCount int
	// Approvals are all approvals and rejections given so far.
	Approvals []Approval
	// Rules are the environment's approval rules with the approvals
	// counted against each.
	Rules []ApprovalRule
}

// Job is the CI job that performed a deployment.
type Job struct {
	// ID is the job ID.
	ID int64
	// Name is the job name from .gitlab-ci.yml.
	Name string
	// Status is the job status (manual, pending, running, success, ...).
	Status string
	// Ref is the job's branch or tag.
	Ref string
	// Tag says whether Ref is a tag.
	Tag bool
	// PipelineID is the ID of the job's pipeline.
	PipelineID int64
	// WebURL is the job's page in GitLab.
	WebURL string
}

// Approval is one approval or rejection of a deployment.
type Approval struct {
	// User is the approver's username.
	User string
	// UserID is the approver's user ID.
	UserID int64
	// Status is ApprovalApproved or ApprovalRejected.
	Status string
	// Comment is the approver's optional comment.
	Comment string
	// CreatedAt is when the approval was given.
	CreatedAt time.Time
}

// ApprovalRule is one approval rule of a protected environment, with the
// approvals that count towards it.
type ApprovalRule struct {
	// ID is the rule ID.
	ID int64
	// Name describes who may approve: a user's name, a group's name or a
	// role such as "Maintainers".
	Name string
	// RequiredApprovals is how many approvals the rule needs.
	RequiredApprovals int
	// Approvals are the approvals and rejections counted against the rule.
	Approvals []Approval
}

// Finished reports whether status is one of GitLab's finished statuses
// (success, failed, canceled). Finished records can still change status.
func Finished(status string) bool {
	switch status {
	case StatusSuccess, StatusFailed, StatusCanceled:
		return true
	default:
		return false
	}
}
