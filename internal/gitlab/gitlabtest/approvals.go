package gitlabtest

import (
	"net/http"
	"strings"
)

// Approval statuses.
const (
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
)

const (
	msgNotProtected = "This environment is not protected."
	msgSelfApproval = "You cannot approve your own deployment. " +
		"This configuration can be adjusted in the protected environment settings."
	msgNotConfigured = "Deployment approvals is not configured for this environment."
	msgNotWaiting    = "This deployment is not waiting for approvals."
	msgNoPermission  = "You don't have permission to approve this deployment. " +
		"Contact the project or group owner for help."
	msgNoRepresentAs = "There are no approval rules for the given `represent_as` parameter. " +
		"Use a valid User/Group/Role name instead."
	msgCommentTooLong = "Comment is too long (maximum is 255 characters)"
	maxCommentLength  = 255
)

// approvalRules are the rules of every protection of env.
func (f *Fake) approvalRules(env *environment) []*approvalRule {
	var out []*approvalRule
	for _, pe := range f.protections(env) {
		out = append(out, pe.approvalRules...)
	}
	return out
}

// requiredApprovalCount is Environment#required_approval_count.
func (f *Fake) requiredApprovalCount(env *environment) int {
	prots := f.protections(env)
	if len(prots) == 0 {
		return 0
	}
	if rules := f.approvalRules(env); len(rules) > 0 {
		sum := 0
		for _, r := range rules {
			sum += r.requiredApprovals
		}
		return sum
	}
	most := 0
	for _, pe := range prots {
		most = max(most, pe.requiredApprovalCount)
	}
	return most
}

// pendingApprovalCount is Deployment#pending_approval_count: per rule, not
// pooled.
func (f *Fake) pendingApprovalCount(d *deployment) int {
	if len(f.protections(d.env)) == 0 || f.cfg.jobApprovalsOnly && d.job == nil {
		return 0
	}
	rules := f.approvalRules(d.env)
	if len(rules) == 0 {
		return max(f.requiredApprovalCount(d.env)-approvedCount(d, nil, false), 0)
	}
	pending := 0
	for _, r := range rules {
		pending += max(r.requiredApprovals-approvedCount(d, r, true), 0)
	}
	return pending
}

func approvedCount(d *deployment, r *approvalRule, byRule bool) int {
	n := 0
	for _, a := range d.approvals {
		if a.status == ApprovalApproved && (!byRule || a.rule == r) {
			n++
		}
	}
	return n
}

// findApprovalRuleFor is Environment#find_approval_rule_for.
func (f *Fake) findApprovalRuleFor(u *user, env *environment, representedAs string) *approvalRule {
	for _, r := range f.approvalRules(env) {
		if representedAs != "" && !strings.Contains(humanizeRule(&r.accessRule), representedAs) {
			continue
		}
		if f.checkAccess(u, env.project, &r.accessRule) {
			return r
		}
	}
	return nil
}

// canApprove is EE DeploymentPolicy's approve_deployment.
func (f *Fake) canApprove(u *user, d *deployment) bool {
	if len(f.approvalRules(d.env)) > 0 {
		return f.can(u, abilityReadDeployment, d.project) && f.findApprovalRuleFor(u, d.env, "") != nil
	}
	return f.canUpdateDeployment(u, d)
}

// validateApproval is ApprovalService#validate, in its order.
func (f *Fake) validateApproval(u *user, d *deployment, status, representedAs string) string {
	switch {
	case len(f.protections(d.env)) == 0:
		return msgNotProtected
	case d.user == u && status == ApprovalApproved && !d.project.allowTriggerApprove:
		return msgSelfApproval
	case f.requiredApprovalCount(d.env) <= 0:
		return msgNotConfigured
	case f.pendingApprovalCount(d) <= 0:
		return msgNotWaiting
	case !f.canApprove(u, d):
		return msgNoPermission
	case len(f.approvalRules(d.env)) > 0 && representedAs != "" && f.findApprovalRuleFor(u, d.env, representedAs) == nil:
		return msgNoRepresentAs
	}
	return ""
}

// approveDeployment serves POST /projects/:id/deployments/:deployment_id/approval.
func (f *Fake) approveDeployment(c *call) *apiError {
	v := validator{p: c.p}
	id, _ := v.integer("deployment_id", true)
	status, _ := v.str("status", true, ApprovalApproved, ApprovalRejected)
	comment, _ := v.str("comment", false)
	representedAs, _ := v.str("represented_as", false)
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	u := c.who.user
	if !f.can(u, abilityReadDeployment, p) {
		return forbidden("")
	}
	d := findDeployment(p, id)
	if d == nil {
		return recordNotFound()
	}
	if msg := f.validateApproval(u, d, status, representedAs); msg != "" {
		return messageError(http.StatusBadRequest, msg)
	}
	prev := ""
	rule := f.findApprovalRuleFor(u, d.env, representedAs)
	if a := findApproval(d, u, rule); a != nil {
		prev = a.status
	}
	a, ok := f.upsertApproval(u, d, status, comment, rule)
	if !ok {
		return messageError(http.StatusBadRequest, []string{msgCommentTooLong})
	}
	if a.status != prev {
		f.queueApprovalHook(d, a, c.base)
	}
	f.processBuild(d, a)
	writeJSON(c.w, http.StatusCreated, approvalEntity(a, c.base))
	return nil
}

// upsertApproval keeps one approval per user and rule: the same status
// returns the record unchanged, a new status replaces status and comment.
// ok is false when the comment fails validation.
func (f *Fake) upsertApproval(u *user, d *deployment, status, comment string, rule *approvalRule) (*approval, bool) {
	if a := findApproval(d, u, rule); a != nil {
		if a.status == status {
			return a, true
		}
		if len([]rune(comment)) > maxCommentLength {
			return nil, false
		}
		a.status, a.comment, a.updatedAt = status, comment, f.now()
		return a, true
	}
	if len([]rune(comment)) > maxCommentLength {
		return nil, false
	}
	now := f.now()
	a := &approval{id: f.next("deployment_approval"), user: u, status: status, comment: comment, rule: rule, createdAt: now, updatedAt: now}
	d.approvals = append(d.approvals, a)
	return a, true
}

// findApproval returns u's approval of d under rule, if any.
func findApproval(d *deployment, u *user, rule *approvalRule) *approval {
	for _, a := range d.approvals {
		if a.user == u && a.rule == rule {
			return a
		}
	}
	return nil
}

// processBuild is ApprovalService#process_build!. Without WithApprovalHooks
// GitLab sends no webhook for an approval itself; a rejection is visible to
// hooks only through the job's deployment failing.
func (f *Fake) processBuild(d *deployment, a *approval) {
	j := d.job
	if j == nil {
		return
	}
	switch {
	case a.status == ApprovalRejected:
		if j.status != JobFailed {
			j.failureReason = "deployment_rejected"
			f.setJobStatus(j, JobFailed)
		}
	case len(f.approvalRules(d.env)) > 0:
		// The job stays manual; someone with deploy rights plays it.
	case f.pendingApprovalCount(d) <= 0 && j.status == JobManual:
		f.setJobStatus(j, JobPending)
	}
}
