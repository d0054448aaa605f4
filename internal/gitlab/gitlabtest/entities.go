package gitlabtest

import (
	"crypto/md5" //nolint:gosec // Gravatar URLs are MD5 hashes by definition.
	"encoding/hex"
	"strings"
)

// userBasicJSON is API::Entities::UserBasic.
type userBasicJSON struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Locked    bool   `json:"locked"`
	AvatarURL string `json:"avatar_url"`
	WebURL    string `json:"web_url"`
}

// userJSON is API::Entities::User, as nested in a CI job.
type userJSON struct {
	userBasicJSON
	CreatedAt    apiTime `json:"created_at"`
	Bio          string  `json:"bio"`
	Location     string  `json:"location"`
	PublicEmail  *string `json:"public_email"`
	Linkedin     string  `json:"linkedin"`
	Twitter      string  `json:"twitter"`
	Discord      string  `json:"discord"`
	WebsiteURL   string  `json:"website_url"`
	Organization string  `json:"organization"`
	JobTitle     string  `json:"job_title"`
	Pronouns     *string `json:"pronouns"`
	Bot          bool    `json:"bot"`
}

func avatarURL(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email)))) //nolint:gosec // see import
	return "https://www.gravatar.com/avatar/" + hex.EncodeToString(sum[:]) + "?s=80&d=identicon"
}

func userBasic(u *user, base string) *userBasicJSON {
	if u == nil {
		return nil
	}
	return &userBasicJSON{ID: u.id, Username: u.username, Name: u.name, State: "active",
		AvatarURL: avatarURL(u.email), WebURL: base + "/" + u.username}
}

func userFull(u *user, base string) *userJSON {
	if u == nil {
		return nil
	}
	return &userJSON{userBasicJSON: *userBasic(u, base)}
}

// environmentJSON is API::Entities::EnvironmentBasic.
type environmentJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Slug        string  `json:"slug"`
	ExternalURL *string `json:"external_url"`
	CreatedAt   apiTime `json:"created_at"`
	UpdatedAt   apiTime `json:"updated_at"`
}

func environmentBasic(e *environment) *environmentJSON {
	var ext *string
	if e.externalURL != "" {
		ext = &e.externalURL
	}
	return &environmentJSON{ID: e.id, Name: e.name, Slug: e.slug, ExternalURL: ext,
		CreatedAt: apiTime(e.createdAt), UpdatedAt: apiTime(e.updatedAt)}
}

// deploymentJSON is API::Entities::Deployment.
type deploymentJSON struct {
	ID          int64            `json:"id"`
	IID         int64            `json:"iid"`
	Ref         string           `json:"ref"`
	SHA         string           `json:"sha"`
	CreatedAt   apiTime          `json:"created_at"`
	UpdatedAt   apiTime          `json:"updated_at"`
	User        *userBasicJSON   `json:"user"`
	Environment *environmentJSON `json:"environment"`
	Deployable  *jobJSON         `json:"deployable"`
	Status      string           `json:"status"`
}

// deploymentExtendedJSON is EE's API::Entities::DeploymentExtended.
type deploymentExtendedJSON struct {
	deploymentJSON
	PendingApprovalCount int                  `json:"pending_approval_count"`
	Approvals            []approvalJSON       `json:"approvals"`
	ApprovalSummary      *approvalSummaryJSON `json:"approval_summary"`
}

func (f *Fake) deploymentJSON(d *deployment, base string) deploymentJSON {
	return deploymentJSON{
		ID: d.id, IID: d.iid, Ref: d.ref, SHA: d.sha,
		CreatedAt: apiTime(d.createdAt), UpdatedAt: apiTime(d.updatedAt),
		User: userBasic(d.user, base), Environment: environmentBasic(d.env),
		Deployable: f.jobJSON(d.job, base), Status: d.status,
	}
}

// deploymentExtendedJSON renders DeploymentExtended; on CE it is the same
// as Deployment.
func (f *Fake) deploymentExtendedJSON(d *deployment, base string) any {
	plain := f.deploymentJSON(d, base)
	if f.cfg.community {
		return plain
	}
	approvals := make([]approvalJSON, 0, len(d.approvals))
	for _, a := range d.approvals {
		approvals = append(approvals, approvalEntity(a, base))
	}
	return deploymentExtendedJSON{
		deploymentJSON:       plain,
		PendingApprovalCount: f.pendingApprovalCount(d),
		Approvals:            approvals,
		ApprovalSummary:      f.approvalSummary(d, base),
	}
}

// approvalJSON is API::Entities::Deployments::Approval.
type approvalJSON struct {
	User      *userBasicJSON `json:"user"`
	Status    string         `json:"status"`
	CreatedAt apiTime        `json:"created_at"`
	Comment   *string        `json:"comment"`
}

func approvalEntity(a *approval, base string) approvalJSON {
	var comment *string
	if a.comment != "" {
		c := a.comment
		comment = &c
	}
	return approvalJSON{User: userBasic(a.user, base), Status: a.status, CreatedAt: apiTime(a.createdAt), Comment: comment}
}

// approvalRuleJSON is ApprovalRuleForSummary.
type approvalRuleJSON struct {
	ID                     int64          `json:"id"`
	UserID                 *int64         `json:"user_id"`
	GroupID                *int64         `json:"group_id"`
	AccessLevel            *int           `json:"access_level"`
	AccessLevelDescription string         `json:"access_level_description"`
	RequiredApprovals      int            `json:"required_approvals"`
	GroupInheritanceType   int            `json:"group_inheritance_type"`
	DeploymentApprovals    []approvalJSON `json:"deployment_approvals"`
}

type approvalSummaryJSON struct {
	Rules []approvalRuleJSON `json:"rules"`
}

func (f *Fake) approvalSummary(d *deployment, base string) *approvalSummaryJSON {
	sum := &approvalSummaryJSON{Rules: []approvalRuleJSON{}}
	if f.cfg.jobApprovalsOnly && d.job == nil {
		return sum
	}
	for _, r := range f.approvalRules(d.env) {
		rj := approvalRuleJSON{ID: r.id, AccessLevelDescription: humanizeRule(&r.accessRule),
			RequiredApprovals: r.requiredApprovals, GroupInheritanceType: r.groupInheritance,
			DeploymentApprovals: []approvalJSON{}}
		switch {
		case r.user != nil:
			rj.UserID = &r.user.id
		case r.group != nil:
			rj.GroupID = &r.group.id
		default:
			lvl := int(r.accessLevel)
			rj.AccessLevel = &lvl
		}
		for _, a := range d.approvals {
			if a.rule == r {
				rj.DeploymentApprovals = append(rj.DeploymentApprovals, approvalEntity(a, base))
			}
		}
		sum.Rules = append(sum.Rules, rj)
	}
	return sum
}
