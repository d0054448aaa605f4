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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// reconcileGate holds, releases or rolls back a gated rollout. It runs after
// the observation and before the record, and may change the target state so that the record
// follows the decision (canceled on rejection, running on release).
func (r *Reconciler) reconcileGate(ctx context.Context, s *scope) (ctrl.Result, error) {
	gld := s.gld
	if gld.Spec.Approval == nil || s.observed.deploy == nil {
		return ctrl.Result{}, nil
	}
	// A bypass on the Deployment is this rollout's while it shows this
	// rollout's template.
	reason := s.observed.deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass]
	if rollout.CurrentHash(s.observed.deploy) != gld.Status.PodTemplateHash {
		reason = ""
	}
	if a := gld.Status.Approval; a != nil {
		switch a.State {
		case gitlabv1alpha1.ApprovalRejected, gitlabv1alpha1.ApprovalTimedOut:
			// A rejected template applied again is released by a bypass.
			if done, err := r.bypass(ctx, s, reason); done || err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{}, r.keepRejected(ctx, s)
		case gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ApprovalBypassed:
			if err := r.spendBypass(ctx, s, reason); err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{}, r.keepReleased(ctx, s)
		}
	}
	// Recorded and spent whatever the rollout shows: a bypass that came with
	// a template that completed before rollgate looked must not stay on the
	// Deployment and release the next one.
	if done, err := r.bypass(ctx, s, reason); done || err != nil {
		return ctrl.Result{}, err
	}
	if s.observed.state != rollout.StateHeld && s.observed.state != rollout.StateProgressing {
		// Complete when first seen, replaced, failed or gone: nothing to hold.
		return ctrl.Result{}, nil
	}
	if gld.Status.Approval == nil {
		if done, err := r.startGate(ctx, s); done || err != nil {
			return ctrl.Result{}, err
		}
	}
	if timeout := gld.Spec.Approval.Timeout; timeout != nil && s.now.Sub(gld.Status.Approval.RequestedAt.Time) >= timeout.Duration {
		r.decide(s, gitlabv1alpha1.ApprovalTimedOut, gitlabv1alpha1.ReasonTimedOut, "No approval came within "+timeout.Duration.String())
		r.warn(gld, gitlabv1alpha1.ReasonTimedOut, "Approve", "No approval came within %s; restoring the last approved template", timeout.Duration)
		return ctrl.Result{}, r.reject(ctx, s)
	}
	if s.observed.state == rollout.StateProgressing {
		if err := r.holdLate(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.consultGitLab(ctx, s)
}

// startGate opens the approval of a new gated rollout. A template approved
// before (kubectl rollout undo to it) is approved again at once.
func (r *Reconciler) startGate(ctx context.Context, s *scope) (bool, error) {
	now := metav1.NewTime(s.now)
	s.gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting, RequestedAt: &now}
	approved, err := r.approvedBefore(ctx, s)
	if err != nil {
		return false, err
	}
	if !approved {
		r.normal(s.gld, gitlabv1alpha1.ReasonAwaitingApproval, "Hold", "Holding pod template %s until GitLab approves it", s.gld.Status.PodTemplateHash)
		return false, nil
	}
	r.decide(s, gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ReasonPreviouslyApproved, "This pod template was approved before")
	return true, r.keepReleased(ctx, s)
}

// approvedBefore reports whether another rollout of the Deployment had this
// rollout's template approved (or bypassed, or rolled out before the gate).
func (r *Reconciler) approvedBefore(ctx context.Context, s *scope) (bool, error) {
	return history.Approved(ctx, r.Client, r.historyReader(), s.gld.Namespace, s.gld.Spec.WorkloadRef.Name,
		s.gld.Status.PodTemplateHash, s.gld.UID)
}

// decide settles the approval and its condition.
func (r *Reconciler) decide(s *scope, state gitlabv1alpha1.ApprovalState, reason, message string) {
	a := s.gld.Status.Approval
	a.State = state
	if state != gitlabv1alpha1.ApprovalAwaiting && a.DecidedAt == nil {
		t := metav1.NewTime(s.now)
		a.DecidedAt = &t
	}
	status := metav1.ConditionFalse
	if state == gitlabv1alpha1.ApprovalApproved || state == gitlabv1alpha1.ApprovalBypassed {
		status = metav1.ConditionTrue
	}
	s.decideApproval(status, reason, message)
}

// keepReleased unpauses the Deployment if rollgate still holds this
// approved template (a release that did not reach the API server before).
func (r *Reconciler) keepReleased(ctx context.Context, s *scope) error {
	if !rollout.Holds(s.observed.deploy, s.gld.Status.PodTemplateHash) {
		return nil
	}
	if err := r.checkpoint(ctx, s); err != nil {
		return err
	}
	if err := r.setHeld(ctx, s.observed.deploy, "", false); err != nil {
		return err
	}
	logf.FromContext(ctx).Info("Released an approved rollout", "deployment", s.observed.deploy.Name, "podTemplateHash", s.gld.Status.PodTemplateHash)
	r.normal(s.gld, "RolloutReleased", "Release", "Released pod template %s", s.gld.Status.PodTemplateHash)
	s.target = rollout.StateProgressing
	return nil
}

// keepRejected keeps a rejected template from running: when it is applied
// again it stays held, says so once, and its record stays canceled.
func (r *Reconciler) keepRejected(ctx context.Context, s *scope) error {
	switch s.observed.state {
	case rollout.StateHeld:
	case rollout.StateProgressing, rollout.StateComplete, rollout.StateDeadlineExceeded:
		if rollout.Held(s.observed.deploy) {
			break
		}
		// The rejected template was applied again while the admission
		// webhook could not hold it, and runs: restore the approved one.
		r.warn(s.gld, gitlabv1alpha1.ReasonHeldLate, "Restore", "Pod template %s was %s but started to run (the admission webhook was "+
			"not called); restoring the last approved template", s.gld.Status.PodTemplateHash, s.gld.Status.Approval.State)
		return r.reject(ctx, s)
	default:
		return nil
	}
	if cond := approvedCondition(s.gld); cond == nil || cond.Reason != gitlabv1alpha1.ReasonRejectedTemplateHeld {
		msg := "This pod template was " + string(s.gld.Status.Approval.State) + " and was applied again; " +
			"the Deployment stays paused until its template changes"
		s.decideApproval(metav1.ConditionFalse, gitlabv1alpha1.ReasonRejectedTemplateHeld, msg)
		r.warn(s.gld, gitlabv1alpha1.ReasonRejectedTemplateHeld, "Hold", "%s", msg)
		r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeWarning, gitlabv1alpha1.ReasonRejectedTemplateHeld, "Hold", "%s (GitLabDeployment %s)", msg, s.gld.Name)
	}
	s.target = rollout.StateSuperseded
	return nil
}

// holdLate pauses a gated rollout that started without approval: the
// admission webhook was down or not installed when its template changed.
func (r *Reconciler) holdLate(ctx context.Context, s *scope) error {
	if err := r.setHeld(ctx, s.observed.deploy, s.gld.Status.PodTemplateHash, true); err != nil {
		return err
	}
	msg := "The rollout started without approval (the admission webhook did not hold it); paused it until GitLab approves"
	r.warn(s.gld, gitlabv1alpha1.ReasonHeldLate, "Hold", "%s", msg)
	r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeWarning, gitlabv1alpha1.ReasonHeldLate, "Hold", "%s", msg)
	logf.FromContext(ctx).Info("Paused a rollout that started without approval", "deployment", s.observed.deploy.Name,
		"podTemplateHash", s.gld.Status.PodTemplateHash)
	s.target = rollout.StateHeld
	return nil
}

// setHeld pauses (held) or unpauses the Deployment, with the hold marker.
func (r *Reconciler) setHeld(ctx context.Context, deploy *appsv1.Deployment, hash string, held bool) error {
	patch := client.MergeFrom(deploy.DeepCopy())
	if held {
		rollout.Hold(deploy, hash)
	} else {
		rollout.Release(deploy)
	}
	return r.Patch(ctx, deploy, patch)
}
