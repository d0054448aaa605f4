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
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/environment"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// settleable reports whether a rollout of the history has nothing left to
// do, so that it can leave the watch and the cache (the settled label):
// rollout.Settled (not the newest, finished, not declined), its Deployment
// still there (a Deployment's deletion takes its rollouts with it, through
// the finalizer), no read of what it shipped still due, and, when the
// Deployment asks for environment metadata, the newest rollout already
// started from the environment status the earlier ones carry. rollouts are
// the watched rollouts of the Deployment, oldest first.
func settleable(gld *gitlabv1alpha1.GitLabDeployment, deploy *appsv1.Deployment, rollouts []gitlabv1alpha1.GitLabDeployment, now time.Time) bool {
	n := len(rollouts)
	if deploy == nil || n == 0 || rollouts[n-1].UID == gld.UID || rollout.IsSettled(gld) {
		return false
	}
	if !rollout.Settled(gld, rollout.CurrentHash(deploy)) || shippedDue(gld, now) {
		return false
	}
	return !environment.Requested(deploy.Annotations) || rollouts[n-1].Status.Environment != nil
}

// shippedDue reports whether the merge requests a record shipped are still
// to be read (reconcileShipped).
func shippedDue(gld *gitlabv1alpha1.GitLabDeployment, now time.Time) bool {
	rec := &gld.Status.Record
	if rec.ID == 0 || rec.Status != gitlab.StatusSuccess || gld.Status.Shipped != nil {
		return false
	}
	return rec.UpdatedAt == nil || now.Sub(rec.UpdatedAt.Time) <= shippedWindow
}

// settleableBefore maps a change of a Deployment's newest rollout (its
// creation, the status it starts from) to the earlier rollouts it lets
// settle, so that they settle without waiting for the Deployment to change.
func (r *Reconciler) settleableBefore(ctx context.Context, obj client.Object) []reconcile.Request {
	gld, ok := obj.(*gitlabv1alpha1.GitLabDeployment)
	if !ok {
		return nil
	}
	rollouts, err := history.View(ctx, r.Client, gld.Namespace, gld.Spec.WorkloadRef.Name)
	if n := len(rollouts); err != nil || n < 2 || rollouts[n-1].UID != gld.UID {
		return nil
	}
	deploy := &appsv1.Deployment{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: gld.Namespace, Name: gld.Spec.WorkloadRef.Name}, deploy); err != nil {
		return nil
	}
	now := r.now()
	var reqs []reconcile.Request
	for i := range rollouts[:len(rollouts)-1] {
		if settleable(&rollouts[i], deploy, rollouts, now) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rollouts[i])})
		}
	}
	return reqs
}

// reconcileSettlement decides, last of the phases, whether this rollout
// settles; the summary's status is written first (settle).
func (r *Reconciler) reconcileSettlement(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.observed.current || s.observed.deploy == nil {
		return ctrl.Result{}, nil
	}
	// settle decides on the status the summary computes, with these.
	_, err := r.rollouts(ctx, s)
	s.settle = err == nil
	return ctrl.Result{}, err
}

// settle labels a settled rollout and removes its record finalizer in one
// patch, once its last status is written: the cache drops it, and no
// reconcile looks at it again. The patch carries the resourceVersion of
// this reconcile's copy, so that a rollout changed since stays.
func (r *Reconciler) settle(ctx context.Context, s *scope) error {
	if !s.settle || !settleable(s.gld, s.observed.deploy, s.observed.rollouts, s.now) {
		return nil
	}
	patch := client.MergeFromWithOptions(s.gld.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if s.gld.Labels == nil {
		s.gld.Labels = map[string]string{}
	}
	s.gld.Labels[gitlabv1alpha1.LabelSettled] = "true"
	if id := s.gld.Status.Record.ID; id != 0 {
		s.gld.Labels[gitlabv1alpha1.LabelRecordID] = strconv.FormatInt(id, 10)
	}
	controllerutil.RemoveFinalizer(s.gld, gitlabv1alpha1.FinalizerRecord)
	err := r.Patch(ctx, s.gld, patch)
	if err == nil || apierrors.IsNotFound(err) {
		key := types.NamespacedName{Namespace: s.gld.Namespace, Name: s.gld.Name}
		r.written.forget(key)
		r.retries.forget(key)
		return nil
	}
	return err
}

// liveHistory lists the Deployment's whole history, the settled rollouts
// included, from the API server, once per reconcile: for the rare decision
// that needs it (a template approved before, the template to restore).
func (r *Reconciler) liveHistory(ctx context.Context, s *scope) ([]gitlabv1alpha1.GitLabDeployment, error) {
	if s.observed.historyRead {
		return s.observed.history, nil
	}
	list, err := history.Live(ctx, r.historyReader(), s.gld.Namespace, s.gld.Spec.WorkloadRef.Name)
	if err != nil {
		return nil, err
	}
	s.observed.history, s.observed.historyRead = list, true
	return list, nil
}
