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

package gitlabdeployment

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/rollout"
)

// pipelineSearchDepth bounds the newest deployments of the approval
// environment searched for the CI job deployment of the rollout's commit.
const pipelineSearchDepth = 20

// consultGitLab reads the approval state from the gate's source, mirrors it
// into status and acts on it: release, reject, or poll again later.
func (r *Reconciler) consultGitLab(ctx context.Context, s *scope) (ctrl.Result, error) {
	a := s.gld.Status.Approval
	poll := ctrl.Result{RequeueAfter: r.ApprovalPolling.After(s.now.Sub(a.RequestedAt.Time))}
	gl, err := r.gitlabClient(ctx, s)
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
		s.decideApproval(metav1.ConditionFalse, gitlabv1alpha1.ReasonWaitingForPipeline, fmt.Sprintf(
			"No CI job deployment of %s in environment %s yet", s.gld.Status.ShortSHA, rollout.ApprovalEnvironment(s.gld)))
		return poll, nil
	}
	r.mirror(s, d)
	v := rollout.VerdictOf(s.gld.Spec.Approval.Source, d)
	switch v.State {
	case gitlabv1alpha1.ApprovalApproved:
		r.decide(s, v.State, v.Reason, v.Message)
		r.normal(s.gld, gitlabv1alpha1.ReasonApproved, "Approve", "%s", v.Message)
		return ctrl.Result{}, r.keepReleased(ctx, s)
	case gitlabv1alpha1.ApprovalRejected:
		r.decide(s, v.State, v.Reason, v.Message)
		r.warn(s.gld, gitlabv1alpha1.ReasonRejected, "Approve", "%s; restoring the last approved template", v.Message)
		return ctrl.Result{}, r.reject(ctx, s)
	}
	if c := approvedCondition(s.gld); v.Reason == gitlabv1alpha1.ReasonApprovalRulesNotFound && (c == nil || c.Reason != v.Reason) {
		// Said once, when it starts: it needs someone to act.
		r.warn(s.gld, v.Reason, "Approve", "%s", v.Message)
		r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeWarning, v.Reason, "Approve", "%s (GitLabDeployment %s)", v.Message, s.gld.Name)
	}
	s.decideApproval(metav1.ConditionFalse, v.Reason, v.Message)
	logf.FromContext(ctx).V(1).Info("Checked GitLab approvals", "pending", d.PendingApprovalCount, "requeueAfter", poll.RequeueAfter)
	return poll, nil
}

// recordApprovals creates rollgate's record (running) so that approvers
// have a deployment to approve, and reads its approvals.
func (r *Reconciler) recordApprovals(ctx context.Context, s *scope, gl gitlab.Client) (*gitlab.Deployment, error) {
	if s.gld.Status.Record.ID == 0 {
		// The record of a held rollout is created running: GitLab computes
		// pending approvals for it like for a job's deployment.
		_, err := r.syncRecord(ctx, s, rollout.StateProgressing)
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
func (r *Reconciler) pipelineApprovals(ctx context.Context, s *scope, gl gitlab.Client) (*gitlab.Deployment, error) {
	project := s.gld.Spec.Project
	if id := s.gld.Status.Approval.DeploymentID; id != 0 {
		return gl.GetDeployment(ctx, project, id)
	}
	list, err := gl.ListDeployments(ctx, project, gitlab.ListOptions{Environment: rollout.ApprovalEnvironment(s.gld),
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

// mirror copies GitLab's approval state into status and emits one Event per
// approval or rejection not seen before.
func (r *Reconciler) mirror(s *scope, d *gitlab.Deployment) {
	for _, given := range rollout.Mirror(s.gld.Status.Approval, d) {
		note := "%s %s GitLab deployment #%d"
		args := []any{given.User, given.Status, d.IID}
		if given.Comment != "" {
			note += ": %s"
			args = append(args, given.Comment)
		}
		if given.Status == gitlab.ApprovalRejected {
			r.warn(s.gld, "ApprovalRejected", "Approve", note, args...)
		} else {
			r.normal(s.gld, "ApprovalGiven", "Approve", note, args...)
		}
	}
}
