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
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// finalizeStatus computes the phase and every condition from what this
// reconcile saw and decided, and patches the status once, if it changed.
// A patch error is returned along with the reconcile's own error.
func (r *Reconciler) finalizeStatus(ctx context.Context, s *scope, retErr error) error {
	if s.deleted || s.target == "" && s.problem.reason == "" {
		return retErr
	}
	summarize(s)
	if equality.Semantic.DeepEqual(s.base.Status, &s.gld.Status) {
		return retErr
	}
	if err := r.Status().Patch(ctx, s.gld, client.MergeFrom(s.base)); client.IgnoreNotFound(err) != nil {
		return kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching the status: %w", err)})
	}
	return retErr
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
func setStalledCondition(gld *gitlabv1alpha1.GitLabDeployment, p problem) {
	if p.reason != "" && p.stalled {
		setCondition(gld, gitlabv1alpha1.ConditionStalled, metav1.ConditionTrue, p.reason, p.message)
		return
	}
	apimeta.RemoveStatusCondition(&gld.Status.Conditions, gitlabv1alpha1.ConditionStalled)
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
	default:
		setCondition(gld, gitlabv1alpha1.ConditionReady, metav1.ConditionTrue, string(gld.Status.Phase), recordMessage(gld))
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
