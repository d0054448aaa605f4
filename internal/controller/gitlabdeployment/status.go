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
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/environment"
	"github.com/rollgate/rollgate/internal/rollout"
)

// finalizeStatus computes the phase and every condition from what this
// reconcile saw and decided, and patches the status once, if it changed.
// A patch error is returned along with the reconcile's own error.
//
// Only a change a user would read is written: the phase, the record, the
// approval and the conditions. The mirrored replica counts change on every
// tick of a rollout; they are refreshed with the next such write. A copy
// older than the stored object conflicts; the reconcile is then retried.
func (r *Reconciler) finalizeStatus(ctx context.Context, s *scope, result *ctrl.Result, retErr error) error {
	if apierrors.IsConflict(retErr) {
		// A write of this reconcile found a newer stored object: the cache
		// had not caught up yet. Nothing was sent; retry on a fresh copy.
		*result = lowestRequeue(*result, ctrl.Result{RequeueAfter: conflictRetry})
		return nil
	}
	if errors.Is(retErr, errStalledBefore) {
		retErr = nil
	}
	if s.deleted || s.target == "" && s.problem.reason == "" {
		return retErr
	}
	summarize(s)
	var err error
	if statusChanged(&s.base.Status, &s.gld.Status) {
		err = r.writeStatus(ctx, s)
	}
	if err == nil && retErr == nil {
		err = r.settle(ctx, s)
	}
	switch {
	case err == nil:
		return retErr
	case apierrors.IsNotFound(err):
		return retErr
	case apierrors.IsConflict(err) && retErr == nil:
		// The cache had not caught up with the stored object yet.
		*result = lowestRequeue(*result, ctrl.Result{RequeueAfter: conflictRetry})
		return nil
	}
	return kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching the status: %w", err)})
}

// conflictRetry is how soon a reconcile whose copy was stale is retried.
const conflictRetry = 200 * time.Millisecond

// statusChanged reports whether the new status differs from the stored one
// in anything but the mirrored replica counts and the Deployment's
// progress message.
func statusChanged(stored, next *gitlabv1alpha1.GitLabDeploymentStatus) bool {
	a, b := stored.DeepCopy(), next.DeepCopy()
	for _, st := range []*gitlabv1alpha1.GitLabDeploymentStatus{a, b} {
		st.Rollout.Replicas, st.Rollout.UpdatedReplicas, st.Rollout.AvailableReplicas = 0, 0, 0
		st.Rollout.Reason, st.Rollout.Message = "", ""
	}
	return !equality.Semantic.DeepEqual(a, b)
}

// summarize sets the phase, the conditions and observedGeneration.
func summarize(s *scope) {
	gld := s.gld
	setPhase(gld, s.target, s.synced, s.now)
	setApprovedCondition(gld, s.approved)
	setStalledCondition(gld, s.problem)
	setReconcilingCondition(gld, s.problem)
	setRecordSyncedCondition(gld, s.problem)
	setReadyCondition(gld, s.problem)
	setEnvironmentSyncedCondition(gld, s.environment)
	gld.Status.ObservedGeneration = gld.Generation
}

// setPhase sets the phase from the state the record follows, and when the
// rollout finished.
func setPhase(gld *gitlabv1alpha1.GitLabDeployment, target rollout.State, synced bool, now time.Time) {
	if target == "" {
		return
	}
	st := &gld.Status
	st.Phase = rollout.Phase(target, st.Record.Status)
	if !inProgress(st.Phase) && st.Rollout.FinishedAt == nil && synced {
		t := metav1.NewTime(now)
		st.Rollout.FinishedAt = &t
	}
}

func inProgress(phase gitlabv1alpha1.RolloutPhase) bool {
	return phase == gitlabv1alpha1.PhaseProgressing || phase == gitlabv1alpha1.PhaseAwaitingApproval
}

// setApprovedCondition writes the Approved condition the gate decided, if
// it decided one.
func setApprovedCondition(gld *gitlabv1alpha1.GitLabDeployment, approved *metav1.Condition) {
	if approved == nil {
		return
	}
	c := *approved
	c.ObservedGeneration = gld.Generation
	apimeta.SetStatusCondition(&gld.Status.Conditions, c)
}

// setStalledCondition: True while a human must change something.
// A rollout that failed (its progress deadline passed) is stalled too: it
// needs someone to fix it, and GitOps tools (kstatus) read it as Failed.
func setStalledCondition(gld *gitlabv1alpha1.GitLabDeployment, p problem) {
	switch {
	case p.reason != "" && p.stalled:
		setCondition(gld, gitlabv1alpha1.ConditionStalled, metav1.ConditionTrue, p.reason, p.message)
	case p.reason == "" && gld.Status.Phase == gitlabv1alpha1.PhaseFailed:
		setCondition(gld, gitlabv1alpha1.ConditionStalled, metav1.ConditionTrue, gitlabv1alpha1.ReasonFailed, failedMessage(gld))
	default:
		apimeta.RemoveStatusCondition(&gld.Status.Conditions, gitlabv1alpha1.ConditionStalled)
	}
}

// failedMessage says how the rollout failed and what its record says.
func failedMessage(gld *gitlabv1alpha1.GitLabDeployment) string {
	msg := "The rollout failed"
	if r := gld.Status.Rollout; r.Reason != "" {
		msg += " (" + r.Reason + ": " + r.Message + ")"
	}
	return msg + "; " + recordMessage(gld)
}

// setReconcilingCondition: True while rollgate waits for GitLab or the
// rollout is in progress.
func setReconcilingCondition(gld *gitlabv1alpha1.GitLabDeployment, p problem) {
	switch {
	case p.reason != "" && !p.stalled:
		setCondition(gld, gitlabv1alpha1.ConditionReconciling, metav1.ConditionTrue, p.reason, p.message)
	case p.reason == "" && inProgress(gld.Status.Phase):
		setCondition(gld, gitlabv1alpha1.ConditionReconciling, metav1.ConditionTrue, string(gld.Status.Phase), "The rollout is in progress")
	default:
		apimeta.RemoveStatusCondition(&gld.Status.Conditions, gitlabv1alpha1.ConditionReconciling)
	}
}

// setRecordSyncedCondition: True when the record says what the rollout shows.
func setRecordSyncedCondition(gld *gitlabv1alpha1.GitLabDeployment, p problem) {
	if p.reason != "" {
		setCondition(gld, gitlabv1alpha1.ConditionRecordSynced, metav1.ConditionFalse, p.reason, p.message)
		return
	}
	setCondition(gld, gitlabv1alpha1.ConditionRecordSynced, metav1.ConditionTrue, gitlabv1alpha1.ReasonRecordSynced, recordMessage(gld))
}

// setReadyCondition summarises: True when the rollout finished and its
// record says so.
func setReadyCondition(gld *gitlabv1alpha1.GitLabDeployment, p problem) {
	switch {
	case p.reason != "":
		setCondition(gld, gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, p.reason, p.message)
	case inProgress(gld.Status.Phase):
		setCondition(gld, gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, string(gld.Status.Phase),
			"The rollout is in progress; "+recordMessage(gld))
	case gld.Status.Phase == gitlabv1alpha1.PhaseFailed:
		setCondition(gld, gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, gitlabv1alpha1.ReasonFailed, failedMessage(gld))
	default:
		setCondition(gld, gitlabv1alpha1.ConditionReady, metav1.ConditionTrue, string(gld.Status.Phase), recordMessage(gld))
	}
}

// setEnvironmentSyncedCondition: True when the GitLab environment has what
// the environment annotations ask for; False with the reason it has not,
// or EnvironmentConflict when values someone else set were kept. Absent
// without environment annotations. It is not part of Ready: the record is
// true to the rollout whatever the environment's metadata says.
func setEnvironmentSyncedCondition(gld *gitlabv1alpha1.GitLabDeployment, d *environmentDecision) {
	switch {
	case d == nil:
	case d.absent:
		apimeta.RemoveStatusCondition(&gld.Status.Conditions, gitlabv1alpha1.ConditionEnvironmentSynced)
	case d.problem.reason != "":
		setCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced, metav1.ConditionFalse, d.problem.reason, d.problem.message)
	case gld.Status.Environment != nil && len(gld.Status.Environment.Conflicts) > 0:
		setCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced, metav1.ConditionFalse, gitlabv1alpha1.ReasonEnvironmentConflict,
			environment.ConflictMessage(gld.Status.Environment.Conflicts))
	default:
		setCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced, metav1.ConditionTrue, gitlabv1alpha1.ReasonEnvironmentSynced,
			fmt.Sprintf("The GitLab environment %s has what the environment annotations ask for", gld.Spec.Environment))
	}
}

func setCondition(gld *gitlabv1alpha1.GitLabDeployment, t string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&gld.Status.Conditions, metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: gld.Generation})
}

func recordMessage(gld *gitlabv1alpha1.GitLabDeployment) string {
	rec := gld.Status.Record
	if rec.ID == 0 {
		return "No GitLab deployment records this rollout"
	}
	return fmt.Sprintf("GitLab deployment #%d in %s is %s", rec.IID, gld.Spec.Environment, rec.Status)
}

// approvedCondition is the Approved condition as it stands.
func approvedCondition(gld *gitlabv1alpha1.GitLabDeployment) *metav1.Condition {
	return apimeta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionApproved)
}
