/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// pipelineSearchDepth bounds the newest deployments of the approval
// environment searched for the CI job deployment of the rollout's commit.
const pipelineSearchDepth = 20

// verdict is what GitLab's approval state says about a held rollout.
type verdict struct {
	state           gitlabv1alpha1.ApprovalState
	reason, message string
}

// consultGitLab reads the approval state from the gate's source, mirrors it
// into status and acts on it: release, reject, or poll again later.
func (r *GitLabDeploymentReconciler) consultGitLab(ctx context.Context, s *recordScope) (ctrl.Result, error) {
	a := s.gld.Status.Approval
	poll := ctrl.Result{RequeueAfter: r.ApprovalPolling.after(s.now.Sub(a.RequestedAt.Time))}
	gl, err := r.clientFor(ctx, s)
	if err != nil {
		return r.handleError(s, err)
	}
	var d *gitlab.Deployment
	if s.gld.Spec.Approval.Source == gitlabv1alpha1.ApprovalSourceRecord {
		d, err = r.recordApprovals(ctx, s, gl)
	} else {
		d, err = r.pipelineApprovals(ctx, s, gl)
	}
	if err != nil {
		return r.handleError(s, err)
	}
	now := metav1.NewTime(s.now)
	a.LastCheckedAt = &now
	if d == nil && s.gld.Spec.Approval.Source == gitlabv1alpha1.ApprovalSourceRecord {
		return poll, nil
	}
	if d == nil {
		setApprovedCondition(s.gld, metav1.ConditionFalse, ReasonWaitingForPipeline, fmt.Sprintf(
			"No CI job deployment of %s in environment %s yet", s.gld.Status.ShortSHA, approvalEnvironment(s.gld)))
		return poll, nil
	}
	r.mirror(s, d)
	v := verdictOf(s.gld.Spec.Approval.Source, d)
	switch v.state {
	case gitlabv1alpha1.ApprovalApproved:
		r.decide(s, v.state, v.reason, v.message)
		r.normal(s.gld, ReasonApproved, "Approve", "%s", v.message)
		return ctrl.Result{}, r.keepReleased(ctx, s)
	case gitlabv1alpha1.ApprovalRejected:
		r.decide(s, v.state, v.reason, v.message)
		r.warn(s.gld, ReasonRejected, "Approve", "%s; restoring the last approved template", v.message)
		return ctrl.Result{}, r.reject(ctx, s)
	}
	setApprovedCondition(s.gld, metav1.ConditionFalse, v.reason, v.message)
	logf.FromContext(ctx).V(1).Info("Checked GitLab approvals", "pending", d.PendingApprovalCount, "requeueAfter", poll.RequeueAfter)
	return poll, nil
}

// recordApprovals creates rollgate's record (running) so that approvers
// have a deployment to approve, and reads its approvals.
func (r *GitLabDeploymentReconciler) recordApprovals(ctx context.Context, s *recordScope, gl gitlab.Client) (*gitlab.Deployment, error) {
	if s.gld.Status.Record.ID == 0 {
		// The record of a held rollout is created running: GitLab computes
		// pending approvals for it like for a job's deployment.
		held := s.state
		s.state = RolloutProgressing
		_, err := r.syncRecord(ctx, s)
		s.state = held
		if err != nil {
			return nil, err
		}
		if s.gld.Status.Record.ID == 0 {
			// GitLab refused or could not be reached; syncRecord said why.
			return nil, nil
		}
	}
	return gl.GetDeployment(ctx, s.gld.Spec.Project, s.gld.Status.Record.ID)
}

// pipelineApprovals finds the CI job deployment of the rollout's commit in
// the approval environment and reads it; nil while there is none yet.
func (r *GitLabDeploymentReconciler) pipelineApprovals(ctx context.Context, s *recordScope, gl gitlab.Client) (*gitlab.Deployment, error) {
	project := s.gld.Spec.Project
	if id := s.gld.Status.Approval.DeploymentID; id != 0 {
		return gl.GetDeployment(ctx, project, id)
	}
	list, err := gl.ListDeployments(ctx, project, gitlab.ListOptions{Environment: approvalEnvironment(s.gld),
		OrderBy: "id", Sort: "desc", PerPage: pipelineSearchDepth, MaxItems: pipelineSearchDepth})
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].SHA == s.gld.Spec.SHA && list[i].Deployable != nil {
			return gl.GetDeployment(ctx, project, list[i].ID)
		}
	}
	return nil, nil
}

// approvalEnvironment is where the Pipeline source looks for the job.
func approvalEnvironment(gld *gitlabv1alpha1.GitLabDeployment) string {
	if a := gld.Spec.Approval; a != nil && a.Environment != "" {
		return a.Environment
	}
	return gld.Spec.Environment
}

// verdictOf maps GitLab's view of the deployment carrying the approvals to a
// decision. Any rejection rejects. For the Pipeline source the job's
// deployment must be blocked with approvals pending to stay held; once it
// runs or succeeds the rollout is released, and if it fails or is canceled
// the rollout is rejected.
func verdictOf(source gitlabv1alpha1.ApprovalSource, d *gitlab.Deployment) verdict {
	if d.Rejected() {
		return verdict{gitlabv1alpha1.ApprovalRejected, ReasonRejected, rejectionMessage(d)}
	}
	pending := verdict{gitlabv1alpha1.ApprovalAwaiting, ReasonAwaitingApproval, pendingMessage(d)}
	approved := verdict{gitlabv1alpha1.ApprovalApproved, ReasonApproved,
		fmt.Sprintf("GitLab deployment #%d is approved", d.IID)}
	if source == gitlabv1alpha1.ApprovalSourceRecord {
		if d.PendingApprovalCount > 0 {
			return pending
		}
		return approved
	}
	switch d.Status {
	case gitlab.StatusBlocked:
		if d.PendingApprovalCount > 0 {
			return pending
		}
		return approved
	case gitlab.StatusRunning, gitlab.StatusSuccess:
		approved.message = fmt.Sprintf("The CI job of GitLab deployment #%d is %s", d.IID, d.Status)
		return approved
	case gitlab.StatusFailed, gitlab.StatusCanceled, gitlab.StatusSkipped:
		return verdict{gitlabv1alpha1.ApprovalRejected, ReasonPipelineJobFailed,
			fmt.Sprintf("The CI job of GitLab deployment #%d ended %s", d.IID, d.Status)}
	}
	pending.message = fmt.Sprintf("The CI job of GitLab deployment #%d is %s", d.IID, d.Status)
	return pending
}

func rejectionMessage(d *gitlab.Deployment) string {
	for _, a := range allApprovals(d) {
		if a.Status == gitlab.ApprovalRejected {
			msg := fmt.Sprintf("%s rejected GitLab deployment #%d", a.User, d.IID)
			if a.Comment != "" {
				msg += ": " + a.Comment
			}
			return msg
		}
	}
	return fmt.Sprintf("GitLab deployment #%d was rejected", d.IID)
}

func pendingMessage(d *gitlab.Deployment) string {
	var msg strings.Builder
	fmt.Fprintf(&msg, "GitLab deployment #%d waits for %d more approvals", d.IID, d.PendingApprovalCount)
	for _, rule := range d.Rules {
		fmt.Fprintf(&msg, "; %s: %d of %d", rule.Name, countApproved(rule.Approvals), rule.RequiredApprovals)
	}
	return msg.String()
}

// allApprovals are the deployment's approvals, from the rules when GitLab
// only lists them there.
func allApprovals(d *gitlab.Deployment) []gitlab.Approval {
	if len(d.Approvals) > 0 {
		return d.Approvals
	}
	var out []gitlab.Approval
	for _, rule := range d.Rules {
		out = append(out, rule.Approvals...)
	}
	return out
}

func countApproved(approvals []gitlab.Approval) int {
	n := 0
	for _, a := range approvals {
		if a.Status == gitlab.ApprovalApproved {
			n++
		}
	}
	return n
}
