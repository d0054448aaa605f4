package gitlab

import "time"

// deploymentEntity decodes GitLab's Deployment and DeploymentExtended
// entities. The SDK's Deployment type lacks the approval fields and the
// job's web_url, so responses are decoded here.
type deploymentEntity struct {
	ID                   int64                  `json:"id"`
	IID                  int64                  `json:"iid"`
	Ref                  string                 `json:"ref"`
	SHA                  string                 `json:"sha"`
	Status               string                 `json:"status"`
	CreatedAt            *time.Time             `json:"created_at"`
	UpdatedAt            *time.Time             `json:"updated_at"`
	User                 *userEntity            `json:"user"`
	Environment          *environmentEntity     `json:"environment"`
	Deployable           *jobEntity             `json:"deployable"`
	PendingApprovalCount int                    `json:"pending_approval_count"`
	Approvals            []approvalEntity       `json:"approvals"`
	ApprovalSummary      *approvalSummaryEntity `json:"approval_summary"`
}

type userEntity struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type environmentEntity struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type jobEntity struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name"`
	Status   string          `json:"status"`
	Ref      string          `json:"ref"`
	Tag      bool            `json:"tag"`
	WebURL   string          `json:"web_url"`
	Pipeline *pipelineEntity `json:"pipeline"`
}

type pipelineEntity struct {
	ID int64 `json:"id"`
}

// approvalEntity is GitLab's Deployments::Approval entity.
type approvalEntity struct {
	User      *userEntity `json:"user"`
	Status    string      `json:"status"`
	Comment   string      `json:"comment"`
	CreatedAt *time.Time  `json:"created_at"`
}

type approvalSummaryEntity struct {
	Rules []approvalRuleEntity `json:"rules"`
}

// approvalRuleEntity is one rule of approval_summary. GitLab names the
// rule's approvers (user name, group name or role) in
// access_level_description.
type approvalRuleEntity struct {
	ID                     int64            `json:"id"`
	AccessLevelDescription string           `json:"access_level_description"`
	RequiredApprovals      int              `json:"required_approvals"`
	DeploymentApprovals    []approvalEntity `json:"deployment_approvals"`
}

// Rejected reports whether any approver rejected the deployment.
func (d *Deployment) Rejected() bool {
	for _, a := range d.Approvals {
		if a.Status == ApprovalRejected {
			return true
		}
	}
	for _, r := range d.Rules {
		for _, a := range r.Approvals {
			if a.Status == ApprovalRejected {
				return true
			}
		}
	}
	return false
}

// toDeployment converts the decoded entity to the domain type.
func (e *deploymentEntity) toDeployment() Deployment {
	d := Deployment{
		ID:                   e.ID,
		IID:                  e.IID,
		Status:               e.Status,
		Ref:                  e.Ref,
		SHA:                  e.SHA,
		CreatedAt:            timeOf(e.CreatedAt),
		UpdatedAt:            timeOf(e.UpdatedAt),
		PendingApprovalCount: e.PendingApprovalCount,
		Approvals:            toApprovals(e.Approvals),
	}
	if e.User != nil {
		d.User = e.User.Username
	}
	if e.Environment != nil {
		d.Environment, d.EnvironmentID = e.Environment.Name, e.Environment.ID
	}
	if e.Deployable != nil && e.Deployable.ID != 0 {
		d.Deployable = e.Deployable.toJob()
	}
	if e.ApprovalSummary != nil {
		for _, r := range e.ApprovalSummary.Rules {
			d.Rules = append(d.Rules, ApprovalRule{
				ID:                r.ID,
				Name:              r.AccessLevelDescription,
				RequiredApprovals: r.RequiredApprovals,
				Approvals:         toApprovals(r.DeploymentApprovals),
			})
		}
	}
	return d
}

func (j *jobEntity) toJob() *Job {
	job := &Job{ID: j.ID, Name: j.Name, Status: j.Status, Ref: j.Ref, Tag: j.Tag, WebURL: j.WebURL}
	if j.Pipeline != nil {
		job.PipelineID = j.Pipeline.ID
	}
	return job
}

func toApprovals(in []approvalEntity) []Approval {
	if len(in) == 0 {
		return nil
	}
	out := make([]Approval, 0, len(in))
	for _, a := range in {
		ap := Approval{Status: a.Status, Comment: a.Comment, CreatedAt: timeOf(a.CreatedAt)}
		if a.User != nil {
			ap.User, ap.UserID = a.User.Username, a.User.ID
		}
		out = append(out, ap)
	}
	return out
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
