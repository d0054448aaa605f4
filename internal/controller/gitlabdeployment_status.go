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
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Condition reasons.
const (
	ReasonRecordSynced      = "RecordSynced"
	ReasonProgressing       = "Progressing"
	ReasonSucceeded         = "Succeeded"
	ReasonFailed            = "Failed"
	ReasonCanceled          = "Canceled"
	ReasonGitLabUnavailable = "GitLabUnavailable"
	ReasonRateLimited       = "RateLimited"
	ReasonProjectNotFound   = "ProjectNotFound"
	ReasonRefNotFound       = "RefNotFound"
	ReasonCommitNotFound    = "CommitNotFound"
	ReasonForbidden         = "Forbidden"
	ReasonGitLabRejected    = "GitLabRejected"
	ReasonAwaitingRecord    = "AwaitingRecord"
)

// recordScope is what one reconcile of a GitLabDeployment read and decided.
type recordScope struct {
	gld     *gitlabv1alpha1.GitLabDeployment
	base    *gitlabv1alpha1.GitLabDeployment
	deploy  *appsv1.Deployment
	state   RolloutState
	now     time.Time
	secret  string
	baseURL string
	// synced: the record says what the rollout shows.
	synced bool
	// deleted: the finalizer was removed; there is no status to write.
	deleted bool
	// problem: why the record could not be synced (reason, message), and
	// whether a change by a human is needed (stalled).
	reason, message string
	stalled         bool
}

func (s *recordScope) stall(err error) {
	reason := ReasonInvalidSpec
	if e, ok := errors.AsType[*InvalidSpecError](err); ok {
		reason = e.Reason
	}
	s.stallWith(reason, err.Error())
}

func (s *recordScope) stallWith(reason, message string) {
	s.reason, s.message, s.stalled = reason, message, true
}

func (s *recordScope) waitWith(reason, message string) {
	s.reason, s.message, s.stalled = reason, message, false
}

// webURL is the GitLab page of the record's environment.
func (s *recordScope) webURL(environmentID int64) string {
	if s.baseURL == "" || environmentID == 0 {
		return ""
	}
	base := strings.TrimSuffix(s.baseURL, "/")
	project := s.gld.Spec.Project
	if projectIDPattern.MatchString(project) {
		return fmt.Sprintf("%s/projects/%s", base, project)
	}
	return fmt.Sprintf("%s/%s/-/environments/%d", base, (&url.URL{Path: project}).EscapedPath(), environmentID)
}

// observeRollout copies what the Deployment shows of this rollout into status.
func observeRollout(gld *gitlabv1alpha1.GitLabDeployment, deploy *appsv1.Deployment, state RolloutState, now time.Time) {
	st := &gld.Status
	st.ShortSHA = gld.Spec.SHA
	if len(st.ShortSHA) > 8 {
		st.ShortSHA = st.ShortSHA[:8]
	}
	if st.Rollout.StartedAt == nil {
		t := metav1.NewTime(now)
		st.Rollout.StartedAt = &t
	}
	if deploy == nil || state == RolloutSuperseded || state == RolloutGone {
		return
	}
	want := int32(1)
	if deploy.Spec.Replicas != nil {
		want = *deploy.Spec.Replicas
	}
	st.Rollout.Replicas = want
	st.Rollout.UpdatedReplicas = deploy.Status.UpdatedReplicas
	st.Rollout.AvailableReplicas = deploy.Status.AvailableReplicas
	if c := progressingCondition(deploy); c != nil {
		st.Rollout.Reason, st.Rollout.Message = c.Reason, c.Message
	}
}

// phaseOf summarises the rollout from its state and its record.
func phaseOf(state RolloutState, record string) gitlabv1alpha1.RolloutPhase {
	switch state {
	case RolloutComplete:
		return gitlabv1alpha1.PhaseSucceeded
	case RolloutDeadlineExceeded:
		return gitlabv1alpha1.PhaseFailed
	case RolloutHeld:
		return gitlabv1alpha1.PhaseAwaitingApproval
	case RolloutProgressing:
		return gitlabv1alpha1.PhaseProgressing
	}
	switch record {
	case gitlab.StatusSuccess:
		return gitlabv1alpha1.PhaseSucceeded
	case gitlab.StatusFailed:
		return gitlabv1alpha1.PhaseFailed
	}
	return gitlabv1alpha1.PhaseCanceled
}

// finalizeStatus computes the conditions from what this reconcile saw and
// patches the status once.
func (r *GitLabDeploymentReconciler) finalizeStatus(ctx context.Context, s *recordScope, result *ctrl.Result, retErr *error) {
	if s.deleted || s.state == "" && s.reason == "" {
		return
	}
	st := &s.gld.Status
	if s.state != "" {
		st.Phase = phaseOf(s.state, st.Record.Status)
		if st.Phase != gitlabv1alpha1.PhaseProgressing && st.Phase != gitlabv1alpha1.PhaseAwaitingApproval && st.Rollout.FinishedAt == nil && s.synced {
			t := metav1.NewTime(s.now)
			st.Rollout.FinishedAt = &t
		}
	}
	setConditions(s)
	st.ObservedGeneration = s.gld.Generation
	if equality.Semantic.DeepEqual(s.base.Status, st) {
		return
	}
	if err := r.Status().Patch(ctx, s.gld, client.MergeFrom(s.base)); err != nil && *retErr == nil {
		logf.FromContext(ctx).V(1).Info("Failed to patch status", "error", err.Error())
		*retErr = client.IgnoreNotFound(err)
	}
	_ = result
}

// setConditions sets Ready, Reconciling, Stalled and RecordSynced (kstatus).
func setConditions(s *recordScope) {
	gld := s.gld
	set := func(t string, status metav1.ConditionStatus, reason, msg string) {
		apimeta.SetStatusCondition(&gld.Status.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: gld.Generation})
	}
	remove := func(t string) { apimeta.RemoveStatusCondition(&gld.Status.Conditions, t) }
	switch {
	case s.reason != "" && s.stalled:
		set(gitlabv1alpha1.ConditionStalled, metav1.ConditionTrue, s.reason, s.message)
		remove(gitlabv1alpha1.ConditionReconciling)
		set(gitlabv1alpha1.ConditionRecordSynced, metav1.ConditionFalse, s.reason, s.message)
		set(gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, s.reason, s.message)
	case s.reason != "":
		remove(gitlabv1alpha1.ConditionStalled)
		set(gitlabv1alpha1.ConditionReconciling, metav1.ConditionTrue, s.reason, s.message)
		set(gitlabv1alpha1.ConditionRecordSynced, metav1.ConditionFalse, s.reason, s.message)
		set(gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, s.reason, s.message)
	default:
		remove(gitlabv1alpha1.ConditionStalled)
		msg := recordMessage(gld)
		set(gitlabv1alpha1.ConditionRecordSynced, metav1.ConditionTrue, ReasonRecordSynced, msg)
		switch gld.Status.Phase {
		case gitlabv1alpha1.PhaseProgressing, gitlabv1alpha1.PhaseAwaitingApproval:
			set(gitlabv1alpha1.ConditionReconciling, metav1.ConditionTrue, string(gld.Status.Phase), "The rollout is in progress")
			set(gitlabv1alpha1.ConditionReady, metav1.ConditionFalse, string(gld.Status.Phase), "The rollout is in progress; "+msg)
		default:
			remove(gitlabv1alpha1.ConditionReconciling)
			set(gitlabv1alpha1.ConditionReady, metav1.ConditionTrue, string(gld.Status.Phase), msg)
		}
	}
}

func recordMessage(gld *gitlabv1alpha1.GitLabDeployment) string {
	rec := gld.Status.Record
	if rec.ID == 0 {
		return "No GitLab deployment records this rollout"
	}
	return fmt.Sprintf("GitLab deployment #%d in %s is %s", rec.IID, gld.Spec.Environment, rec.Status)
}

// gitlabReason names a GitLab error as a condition reason.
func gitlabReason(err *gitlab.Error) string {
	msg := strings.ToLower(err.Message)
	switch {
	case err.StatusCode == http.StatusTooManyRequests:
		return ReasonRateLimited
	case err.Class == gitlab.Transient:
		return ReasonGitLabUnavailable
	case err.StatusCode == http.StatusNotFound:
		return ReasonProjectNotFound
	case err.StatusCode == http.StatusForbidden:
		return ReasonForbidden
	case strings.Contains(msg, "ref:"):
		return ReasonRefNotFound
	case strings.Contains(msg, "sha:"):
		return ReasonCommitNotFound
	}
	return ReasonGitLabRejected
}
