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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// adoptionWindow is how far back, before the intent was written, a record
// found in GitLab may have been created and still be adopted: it absorbs
// clock skew between the cluster and GitLab.
const adoptionWindow = 2 * time.Minute

// adoptionPageSize bounds the newest deployments of the environment searched
// for a record to adopt.
const adoptionPageSize = 50

// reconcileRecord makes the GitLab record follow the target state.
func (r *Reconciler) reconcileRecord(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.syncRecord(ctx, s, s.target)
}

// syncRecord creates or moves the GitLab record so that it says what the
// rollout shows (target). A normal rollout costs two writes (POST running, PUT
// success) and no reads; a record is looked for in GitLab only after a
// crash between a POST and its status update, or for a rollout first seen
// already complete.
func (r *Reconciler) syncRecord(ctx context.Context, s *scope, target rollout.State) (ctrl.Result, error) {
	rec := &s.gld.Status.Record
	action := rollout.DesiredRecord(target, rec.Status)
	needsAdoption := rec.ID == 0 && (rec.Intent != "" || target == rollout.StateComplete)
	needsRefresh := rec.ID != 0 && rec.Intent != "" && rec.Intent != rec.Status
	if action.Status == "" && !needsRefresh && (!needsAdoption || rec.Intent == "") {
		s.synced = true
		return ctrl.Result{}, nil
	}
	if needsAdoption && rec.IntentTime != nil {
		// A POST whose answer was lost may still be on its way into GitLab:
		// look for its record only once it must have landed.
		if wait := rec.IntentTime.Add(r.AdoptAfter).Sub(s.now); wait > 0 {
			s.waitWith(gitlabv1alpha1.ReasonAwaitingRecord, "Waiting for an unanswered request to GitLab to settle before looking for its record")
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	gl, err := r.gitlabClient(ctx, s)
	if err != nil {
		return r.handleError(s, err)
	}
	project := s.gld.Spec.Project
	switch {
	case needsAdoption:
		if err := r.adopt(ctx, s, gl); err != nil {
			return r.handleError(s, err)
		}
	case needsRefresh:
		// A PUT may have reached GitLab before a crash: read the record
		// instead of risking a same-status PUT, which GitLab refuses.
		d, err := gl.GetDeployment(ctx, project, rec.ID)
		if err != nil {
			return r.handleError(s, err)
		}
		setRecord(s, d)
	}
	action = rollout.DesiredRecord(target, rec.Status)
	if action.Status == "" {
		s.synced = true
		return ctrl.Result{}, r.clearIntent(ctx, s)
	}
	if action.Create || !s.fresh && !s.ours {
		// A POST is not idempotent: its intent is saved first, so that a
		// record whose answer was lost is adopted, not created twice. So
		// is a PUT decided on a copy that may lag the stored object (not
		// this controller's own last write: after a restart, say): the
		// intent's resourceVersion precondition turns a stale copy into a
		// conflict instead of a second PUT. A PUT whose answer was lost is
		// sent again after a crash; GitLab refuses a same-status PUT, and
		// send then reads the record instead.
		if err := r.writeIntent(ctx, s, action.Status); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.send(ctx, s, gl, action); err != nil {
		return r.handleError(s, err)
	}
	s.synced = true
	return ctrl.Result{}, nil
}

// send performs one GitLab write and records its answer.
func (r *Reconciler) send(ctx context.Context, s *scope, gl gitlab.Client, action rollout.RecordAction) error {
	spec := &s.gld.Spec
	var (
		d   *gitlab.Deployment
		err error
	)
	if action.Create {
		d, err = gl.CreateDeployment(ctx, spec.Project, gitlab.CreateOptions{
			Environment: spec.Environment, Ref: spec.Ref, SHA: spec.SHA, Tag: spec.Tag, Status: action.Status})
	} else {
		d, err = gl.UpdateDeploymentStatus(ctx, spec.Project, s.gld.Status.Record.ID, action.Status)
	}
	if err != nil && !action.Create && gitlab.IsConflictingTransition(err) {
		// The record was moved in GitLab by someone else: take its status
		// as it is rather than retrying a transition GitLab refuses.
		d, err = gl.GetDeployment(ctx, spec.Project, s.gld.Status.Record.ID)
		if err == nil {
			setRecord(s, d)
			s.gld.Status.Record.Intent, s.gld.Status.Record.IntentTime = "", nil
			return nil
		}
	}
	if err != nil {
		if action.Create && gitlab.ClassOf(err) != gitlab.Transient {
			// GitLab refused the POST: nothing was created.
			s.gld.Status.Record.Intent = ""
			s.gld.Status.Record.IntentTime = nil
		}
		return err
	}
	setRecord(s, d)
	s.gld.Status.Record.Intent = ""
	s.gld.Status.Record.IntentTime = nil
	// GitLab's answer is the truth now: the status that records it is
	// written whatever else changed the object meanwhile (the garbage
	// collector marking it deleted, say), not dropped on a conflict and
	// sent again by the next reconcile.
	s.fresh = true
	if action.Create {
		r.normal(s.gld, "RecordCreated", "Create", "Created GitLab deployment #%d in %s with status %s%s",
			d.IID, spec.Environment, d.Status, r.fromCluster())
	} else {
		r.normal(s.gld, "RecordUpdated", "Update", "Marked GitLab deployment #%d %s", d.IID, d.Status)
	}
	if gitlab.Finished(d.Status) {
		r.Metrics.recorded(d.Status)
	}
	logf.FromContext(ctx).Info("Updated GitLab record", "iid", d.IID, "status", d.Status, "created", action.Create)
	return nil
}

// writeIntent persists the status about to be sent before sending it, so
// that a crash right after the request is recovered from the status.
func (r *Reconciler) writeIntent(ctx context.Context, s *scope, status string) error {
	rec := &s.gld.Status.Record
	rec.Intent = status
	// The cluster that makes the record says so with it.
	s.gld.Status.Cluster = r.ClusterName
	now := metav1.NewTime(s.now)
	rec.IntentTime = &now
	return r.checkpoint(ctx, s)
}

func (r *Reconciler) clearIntent(ctx context.Context, s *scope) error {
	if s.gld.Status.Record.Intent == "" {
		return nil
	}
	s.gld.Status.Record.Intent = ""
	s.gld.Status.Record.IntentTime = nil
	return r.checkpoint(ctx, s)
}

// checkpoint writes the status now, before a step whose outcome must
// survive a crash (the write-ahead intent of a POST, a gate decision before
// the Deployment changes), and makes it the base of later patches. The
// GitLabDeployment was read from the cache: the first write of a reconcile
// carries its resourceVersion, so that a copy older than the stored one
// conflicts (and the reconcile is retried on a fresh copy) instead of
// acting twice on a decision that was already carried out.
//
// The phase goes with it: what the rollout was seen to do must survive the
// crash too (a rollout seen complete is recorded success even if it is
// superseded before the record lands).
func (r *Reconciler) checkpoint(ctx context.Context, s *scope) error {
	setPhase(s.gld, s.target, false, s.now)
	if err := r.writeStatus(ctx, s); err != nil {
		return err
	}
	s.base, s.fresh = s.gld.DeepCopy(), true
	return nil
}

// writeStatus patches the status from the base and remembers the version
// written (writtenObjects).
func (r *Reconciler) writeStatus(ctx context.Context, s *scope) error {
	if err := r.Status().Patch(ctx, s.gld, s.statusPatch()); err != nil {
		return err
	}
	r.written.remember(s.gld)
	return nil
}

// adopt looks for the record of this rollout among the environment's newest
// deployments: one created through the API by the token's own user for the
// same sha and ref, no earlier than the intent (or, for a rollout first
// seen complete, a record still running), and not already the record of
// another rollout. A record made by another user is another cluster's (each
// cluster has a token of its own) and is never taken.
func (r *Reconciler) adopt(ctx context.Context, s *scope, gl gitlab.Client) error {
	spec := &s.gld.Spec
	list, err := gl.ListDeployments(ctx, spec.Project, gitlab.ListOptions{
		Environment: spec.Environment, OrderBy: "id", Sort: "desc", PerPage: adoptionPageSize, MaxItems: adoptionPageSize})
	if err != nil {
		return err
	}
	rec := &s.gld.Status.Record
	me := ""
	for i := range list {
		d := &list[i]
		if d.SHA != spec.SHA || d.Ref != spec.Ref || d.Deployable != nil {
			continue
		}
		if rec.IntentTime != nil && d.CreatedAt.Before(rec.IntentTime.Add(-adoptionWindow)) {
			continue
		}
		if rec.IntentTime == nil && d.Status != gitlab.StatusRunning {
			continue
		}
		if taken, err := r.recordTaken(ctx, s.gld, d.ID); err != nil || taken {
			if err != nil {
				return err
			}
			continue
		}
		if me == "" {
			if me, err = gl.CurrentUser(ctx); err != nil {
				return err
			}
		}
		if d.User != me {
			continue
		}
		setRecord(s, d)
		s.gld.Status.Cluster = r.ClusterName
		r.normal(s.gld, "RecordAdopted", "Adopt", "Adopted GitLab deployment #%d (%s) instead of creating another%s",
			d.IID, d.Status, r.fromCluster())
		return nil
	}
	return nil
}

// recordTaken reports whether the GitLab deployment id is already the
// record of another rollout in the namespace that records to the same
// project: several Deployments may deploy the same sha and ref to one
// environment. It looks in the cache and at this controller's writes the
// cache may not show yet (watched rollouts), and at the API server for the
// settled ones (their record-id label); it runs only for a record that
// could be adopted.
func (r *Reconciler) recordTaken(ctx context.Context, gld *gitlabv1alpha1.GitLabDeployment, id int64) (bool, error) {
	if r.written.holds(gld, id) {
		return true, nil
	}
	holders, err := history.WithRecord(ctx, r.Client, r.liveReader(), gld.Namespace, id)
	if err != nil {
		return false, err
	}
	for i := range holders {
		other := &holders[i]
		if other.UID != gld.UID && other.Spec.Project == gld.Spec.Project {
			return true, nil
		}
	}
	return false, nil
}

func setRecord(s *scope, d *gitlab.Deployment) {
	rec := &s.gld.Status.Record
	rec.ID, rec.IID, rec.Status, rec.EnvironmentID = d.ID, d.IID, d.Status, d.EnvironmentID
	created, updated := metav1.NewTime(d.CreatedAt), metav1.NewTime(d.UpdatedAt)
	rec.CreatedAt, rec.UpdatedAt = &created, &updated
	rec.WebURL = s.webURL(d.EnvironmentID)
}

// handleError turns an error into conditions, an Event and what to do next:
// retry with back-off (transient), look again later (credentials or a
// GitLab refusal that a change outside the cluster may fix).
func (r *Reconciler) handleError(s *scope, err error) (ctrl.Result, error) {
	if credErr, ok := errors.AsType[*CredentialsError](err); ok {
		s.stallWith(credErr.Reason, credErr.Message)
		r.warn(s.gld, credErr.Reason, "Authenticate", "%s", credErr.Message)
		return ctrl.Result{RequeueAfter: r.CredentialsRetry}, nil
	}
	var glErr *gitlab.Error
	if !errors.As(err, &glErr) {
		return ctrl.Result{}, err
	}
	reason := rollout.GitLabReason(glErr)
	switch glErr.Class {
	case gitlab.InvalidCredentials:
		msg := fmt.Sprintf("GitLab rejected the token in Secret %s: %s", s.observed.secret, glErr.Error())
		s.stallWith(gitlabv1alpha1.ReasonCredentialsInvalid, msg)
		r.warn(s.gld, gitlabv1alpha1.ReasonCredentialsInvalid, "Authenticate", "%s", msg)
		return ctrl.Result{RequeueAfter: r.CredentialsRetry}, nil
	case gitlab.Terminal:
		msg := glErr.Error()
		if annotation := annotationOf(reason); annotation != "" {
			msg += " (check " + annotation + ")"
		}
		s.stallWith(reason, msg)
		r.warn(s.gld, reason, "Record", "%s", msg)
		return ctrl.Result{RequeueAfter: r.GitLabRetry}, nil
	default:
		s.waitWith(reason, glErr.Error())
		r.warn(s.gld, reason, "Record", "%s", glErr.Error())
		if glErr.RetryAfter > 0 {
			return ctrl.Result{RequeueAfter: glErr.RetryAfter}, nil
		}
		// Returned to the runtime, whose rate limiter backs off exponentially.
		return ctrl.Result{}, glErr
	}
}

// annotationOf names the annotation a GitLab refusal points at.
func annotationOf(reason string) string {
	switch reason {
	case gitlabv1alpha1.ReasonProjectNotFound:
		return gitlabv1alpha1.AnnotationProject
	case gitlabv1alpha1.ReasonRefNotFound:
		return gitlabv1alpha1.AnnotationRef
	case gitlabv1alpha1.ReasonCommitNotFound:
		return gitlabv1alpha1.AnnotationSHA
	case gitlabv1alpha1.ReasonForbidden:
		return gitlabv1alpha1.AnnotationCredentials + " and " + gitlabv1alpha1.AnnotationProject
	}
	return ""
}
