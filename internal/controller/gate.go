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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Reasons of the Approved condition.
const (
	ReasonAwaitingApproval     = "AwaitingApproval"
	ReasonWaitingForPipeline   = "WaitingForPipeline"
	ReasonApproved             = "Approved"
	ReasonPreviouslyApproved   = "PreviouslyApproved"
	ReasonBypassed             = "Bypassed"
	ReasonRejected             = "Rejected"
	ReasonTimedOut             = "TimedOut"
	ReasonPipelineJobFailed    = "PipelineJobFailed"
	ReasonRejectedTemplateHeld = "RejectedTemplateHeld"
	ReasonHeldLate             = "HeldLate"
)

// ApprovalPolling bounds how often GitLab is asked about a held rollout:
// Min at first, growing with the time waited up to Max, jittered.
type ApprovalPolling struct {
	// Min is the first interval.
	Min time.Duration
	// Max caps the interval.
	Max time.Duration
}

// DefaultApprovalPolling polls after 5s at first and at most every 2m.
var DefaultApprovalPolling = ApprovalPolling{Min: 5 * time.Second, Max: 2 * time.Minute}

// after is the next poll interval for a rollout that has waited so long.
func (p ApprovalPolling) after(waited time.Duration) time.Duration {
	if p.Min <= 0 {
		p = DefaultApprovalPolling
	}
	d := min(max(p.Min, waited/10), max(p.Max, p.Min))
	return wait.Jitter(d, 0.2)
}

// reconcileGate holds, releases or rolls back a gated rollout. It runs after
// observe and before syncRecord, and may change s.state so that the record
// follows the decision (canceled on rejection, running on release).
func (r *GitLabDeploymentReconciler) reconcileGate(ctx context.Context, s *recordScope) (ctrl.Result, error) {
	gld := s.gld
	if gld.Spec.Approval == nil || s.deploy == nil {
		return ctrl.Result{}, nil
	}
	if a := gld.Status.Approval; a != nil {
		switch a.State {
		case gitlabv1alpha1.ApprovalRejected, gitlabv1alpha1.ApprovalTimedOut:
			return ctrl.Result{}, r.keepRejected(ctx, s)
		case gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ApprovalBypassed:
			return ctrl.Result{}, r.keepReleased(ctx, s)
		}
	}
	if s.state != RolloutHeld && s.state != RolloutProgressing {
		// Complete when first seen, replaced, failed or gone: nothing to hold.
		return ctrl.Result{}, nil
	}
	if gld.Status.Approval == nil {
		if done, err := r.startGate(ctx, s); done || err != nil {
			return ctrl.Result{}, err
		}
	}
	if reason := s.deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass]; reason != "" {
		return ctrl.Result{}, r.bypass(ctx, s, reason)
	}
	if timeout := gld.Spec.Approval.Timeout; timeout != nil && s.now.Sub(gld.Status.Approval.RequestedAt.Time) >= timeout.Duration {
		r.decide(s, gitlabv1alpha1.ApprovalTimedOut, ReasonTimedOut, "No approval came within "+timeout.Duration.String())
		r.warn(gld, ReasonTimedOut, "Approve", "No approval came within %s; restoring the last approved template", timeout.Duration)
		return ctrl.Result{}, r.reject(ctx, s)
	}
	if s.state == RolloutProgressing {
		if err := r.holdLate(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.consultGitLab(ctx, s)
}

// startGate opens the approval of a new gated rollout. A template approved
// before (kubectl rollout undo to it) is approved again at once.
func (r *GitLabDeploymentReconciler) startGate(ctx context.Context, s *recordScope) (bool, error) {
	now := metav1.NewTime(s.now)
	s.gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting, RequestedAt: &now}
	rollouts, err := rolloutsOf(ctx, r.Client, s.gld.Namespace, s.gld.Spec.WorkloadRef.Name)
	if err != nil {
		return false, err
	}
	others := rollouts[:0:0]
	for i := range rollouts {
		if rollouts[i].UID != s.gld.UID {
			others = append(others, rollouts[i])
		}
	}
	if !templateApproved(others, s.gld.Status.PodTemplateHash) {
		r.normal(s.gld, ReasonAwaitingApproval, "Hold", "Holding pod template %s until GitLab approves it", s.gld.Status.PodTemplateHash)
		return false, nil
	}
	r.decide(s, gitlabv1alpha1.ApprovalApproved, ReasonPreviouslyApproved, "This pod template was approved before")
	return true, r.keepReleased(ctx, s)
}

// decide settles the approval and its condition.
func (r *GitLabDeploymentReconciler) decide(s *recordScope, state gitlabv1alpha1.ApprovalState, reason, message string) {
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
	setApprovedCondition(s.gld, status, reason, message)
}

// keepReleased unpauses the Deployment if rollgate still holds this
// approved template (a release that did not reach the API server before).
func (r *GitLabDeploymentReconciler) keepReleased(ctx context.Context, s *recordScope) error {
	if !r.holds(s) {
		return nil
	}
	if err := r.patchStatus(ctx, s); err != nil {
		return err
	}
	if err := r.setHeld(ctx, s.deploy, "", false); err != nil {
		return err
	}
	logf.FromContext(ctx).Info("Released an approved rollout", "deployment", s.deploy.Name, "podTemplateHash", s.gld.Status.PodTemplateHash)
	r.normal(s.gld, "RolloutReleased", "Release", "Released pod template %s", s.gld.Status.PodTemplateHash)
	s.state = RolloutProgressing
	return nil
}

// keepRejected keeps a rejected template from running: when it is applied
// again it stays held, says so once, and its record stays canceled.
func (r *GitLabDeploymentReconciler) keepRejected(ctx context.Context, s *recordScope) error {
	switch s.state {
	case RolloutHeld:
	case RolloutProgressing, RolloutComplete, RolloutDeadlineExceeded:
		if Held(s.deploy) {
			break
		}
		// The rejected template was applied again while the admission
		// webhook could not hold it, and runs: restore the approved one.
		r.warn(s.gld, ReasonHeldLate, "Restore", "Pod template %s was %s but started to run (the admission webhook was "+
			"not called); restoring the last approved template", s.gld.Status.PodTemplateHash, s.gld.Status.Approval.State)
		return r.reject(ctx, s)
	default:
		return nil
	}
	if cond := approvedCondition(s.gld); cond == nil || cond.Reason != ReasonRejectedTemplateHeld {
		msg := "This pod template was " + string(s.gld.Status.Approval.State) + " and was applied again; " +
			"the Deployment stays paused until its template changes"
		setApprovedCondition(s.gld, metav1.ConditionFalse, ReasonRejectedTemplateHeld, msg)
		r.warn(s.gld, ReasonRejectedTemplateHeld, "Hold", "%s", msg)
		if r.Recorder != nil {
			r.Recorder.Eventf(s.deploy, s.gld, "Warning", ReasonRejectedTemplateHeld, "Hold", "%s (GitLabDeployment %s)", msg, s.gld.Name)
		}
	}
	s.state = RolloutSuperseded
	return nil
}

// bypass releases the rollout without approval, as the bypass annotation
// asks, and records who asked and why.
func (r *GitLabDeploymentReconciler) bypass(ctx context.Context, s *recordScope, reason string) error {
	by := s.deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy]
	if by == "" {
		by = "an unknown user"
	}
	r.decide(s, gitlabv1alpha1.ApprovalBypassed, ReasonBypassed, "Released without approval by "+by+": "+reason)
	r.warn(s.gld, "ApprovalBypassed", "Bypass", "Released pod template %s without GitLab approval; bypassed by %s: %s",
		s.gld.Status.PodTemplateHash, by, reason)
	if r.Recorder != nil {
		r.Recorder.Eventf(s.deploy, s.gld, "Warning", "ApprovalBypassed", "Bypass",
			"Released pod template %s without GitLab approval; bypassed by %s: %s", s.gld.Status.PodTemplateHash, by, reason)
	}
	patch := client.MergeFrom(s.deploy.DeepCopy())
	release(s.deploy)
	delete(s.deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypass)
	delete(s.deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypassedBy)
	if err := r.Patch(ctx, s.deploy, patch); err != nil {
		return err
	}
	s.state = RolloutProgressing
	return nil
}

// holdLate pauses a gated rollout that started without approval: the
// admission webhook was down or not installed when its template changed.
func (r *GitLabDeploymentReconciler) holdLate(ctx context.Context, s *recordScope) error {
	if err := r.setHeld(ctx, s.deploy, s.gld.Status.PodTemplateHash, true); err != nil {
		return err
	}
	msg := "The rollout started without approval (the admission webhook did not hold it); paused it until GitLab approves"
	r.warn(s.gld, ReasonHeldLate, "Hold", "%s", msg)
	if r.Recorder != nil {
		r.Recorder.Eventf(s.deploy, s.gld, "Warning", ReasonHeldLate, "Hold", "%s", msg)
	}
	logf.FromContext(ctx).Info("Paused a rollout that started without approval", "deployment", s.deploy.Name,
		"podTemplateHash", s.gld.Status.PodTemplateHash)
	s.state = RolloutHeld
	return nil
}

// holds reports whether the Deployment is paused on this rollout's template.
func (r *GitLabDeploymentReconciler) holds(s *recordScope) bool {
	return s.deploy != nil && s.deploy.Spec.Paused &&
		TemplateHash(&s.deploy.Spec.Template) == s.gld.Status.PodTemplateHash &&
		s.deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] != ""
}

// setHeld pauses (held) or unpauses the Deployment, with the hold marker.
func (r *GitLabDeploymentReconciler) setHeld(ctx context.Context, deploy *appsv1.Deployment, hash string, held bool) error {
	patch := client.MergeFrom(deploy.DeepCopy())
	if held {
		hold(deploy, hash)
	} else {
		release(deploy)
	}
	return r.Patch(ctx, deploy, patch)
}
