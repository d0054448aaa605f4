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
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// reconcileValidation stalls a rollout whose spec or annotations are
// invalid, before anything is sent to GitLab. A gated one stays held (fail
// closed): if its template slipped past the admission webhook, the
// Deployment is paused now.
func (r *Reconciler) reconcileValidation(ctx context.Context, s *scope) (ctrl.Result, error) {
	err := rollout.Validate(s.gld)
	if err == nil {
		return ctrl.Result{}, nil
	}
	s.stallWith(rollout.ReasonOf(err), err.Error())
	if s.gld.Spec.Approval != nil {
		if err := r.holdInvalid(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	if stalled := apimeta.FindStatusCondition(s.gld.Status.Conditions, gitlabv1alpha1.ConditionStalled); stalled != nil &&
		stalled.Reason == s.problem.reason && stalled.Message == s.problem.message {
		// Said before: it needs a human, not another Event or log line.
		return ctrl.Result{}, errStalledBefore
	}
	r.warn(s.gld, s.problem.reason, "Validate", "%s", s.problem.message)
	return ctrl.Result{}, reconcile.TerminalError(err)
}

// errStalledBefore ends a reconcile that found the rollout stalled for the
// reason it already shows; it is not reported to the runtime.
var errStalledBefore = errors.New("stalled as before")

// reconcileObservation reads the Deployment and the newer rollouts of it,
// and says what they show about this rollout.
func (r *Reconciler) reconcileObservation(ctx context.Context, s *scope) (ctrl.Result, error) {
	gld := s.gld
	deploy, err := r.deployment(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	hash := rollout.Hash(gld)
	if hash == "" && deploy != nil {
		hash = rollout.CurrentHash(deploy)
	}
	gld.Status.PodTemplateHash = hash
	state := rollout.Observe(deploy, hash)
	if state != rollout.StateGone && state != rollout.StateSuperseded {
		newer, err := r.hasNewerRollout(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		if newer {
			state = rollout.StateSuperseded
		}
	}
	// What the Deployment shows now belongs to this rollout only while it
	// is the Deployment's current one; a superseded rollout keeps what was
	// seen of it, even when its remembered end stands in for its state.
	observeRollout(gld, deploy, state, s.now)
	s.observed.current = state != rollout.StateSuperseded && state != rollout.StateGone
	state = rollout.Remembered(state, &gld.Status)
	s.observed.state, s.target = state, state
	return ctrl.Result{}, nil
}

func (r *Reconciler) hasNewerRollout(ctx context.Context, s *scope) (bool, error) {
	rollouts, err := r.rollouts(ctx, s)
	if err != nil {
		return false, err
	}
	for i := range rollouts {
		if rollouts[i].UID != s.gld.UID && rollout.Compare(rollouts[i], *s.gld) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// observeRollout copies what the Deployment shows of this rollout into status.
func observeRollout(gld *gitlabv1alpha1.GitLabDeployment, deploy *appsv1.Deployment, state rollout.State, now time.Time) {
	st := &gld.Status
	st.ShortSHA = gld.Spec.SHA
	if len(st.ShortSHA) > 8 {
		st.ShortSHA = st.ShortSHA[:8]
	}
	if st.Rollout.StartedAt == nil {
		t := metav1.NewTime(now)
		st.Rollout.StartedAt = &t
	}
	if deploy == nil || state == rollout.StateSuperseded || state == rollout.StateGone {
		return
	}
	st.Rollout.Replicas = rollout.DesiredReplicas(deploy)
	st.Rollout.UpdatedReplicas = deploy.Status.UpdatedReplicas
	st.Rollout.AvailableReplicas = deploy.Status.AvailableReplicas
	if c := rollout.ProgressingCondition(deploy); c != nil {
		st.Rollout.Reason, st.Rollout.Message = c.Reason, c.Message
	}
}
