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

// Package gitlabdeployment keeps each GitLabDeployment's GitLab record true
// to its rollout and runs the approval gate. Reconcile is a short driver
// over a list of phases (validate, observe, gate, record, then the
// environment's metadata and what the rollout shipped) that work on one
// scope; conditions are computed once, at the end, in status.go.
package gitlabdeployment

import (
	"context"

	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// Reconciler keeps each GitLabDeployment's GitLab record true to its
// rollout, sending only transitions, and holds gated rollouts until GitLab
// approves them.
type Reconciler struct {
	client.Client
	// Recorder emits Events on GitLabDeployments and Deployments.
	Recorder events.EventRecorder
	// GitLab hands out GitLab clients per host and token.
	GitLab gitlab.ClientProvider
	// Credentials finds the credentials Secret of a GitLabDeployment.
	Credentials *CredentialsResolver
	// Clock is the time source; the real clock if nil.
	Clock clock.PassiveClock
	// Metrics counts recorded rollouts; optional.
	Metrics *Metrics
	// CredentialsRetry is how soon a missing or rejected credentials
	// Secret is looked at again (Secrets are not watched).
	CredentialsRetry time.Duration
	// GitLabRetry is how soon a rollout stalled on GitLab's answer (a
	// missing ref, a project that cannot be found, a 403) is tried again.
	GitLabRetry time.Duration
	// AdoptAfter is how long after an unanswered POST the record is looked
	// for in GitLab: longer than a request can take, so that a POST still
	// in flight is not mistaken for one that never arrived.
	AdoptAfter time.Duration
	// FinalizeTimeout bounds how long a deleted GitLabDeployment waits for
	// GitLab to accept canceled before it is let go with a Warning Event.
	FinalizeTimeout time.Duration
	// APIReader reads from the API server (GitLabDeployments, ReplicaSets
	// of a rejected rollout); the client is used if nil.
	APIReader client.Reader
	// HistoryReader lists a Deployment's whole history, the settled
	// rollouts the cache leaves out included (history.Reader); APIReader
	// is used if nil.
	HistoryReader client.Reader
	// ApprovalPolling bounds how often GitLab is asked about held rollouts.
	ApprovalPolling rollout.ApprovalPolling
	// MaxConcurrentReconciles is how many GitLabDeployments are reconciled
	// at once; each is only ever reconciled by one worker at a time.
	MaxConcurrentReconciles int
	// ClusterName is the --cluster-name of this rollgate, recorded in the
	// status of the records it makes and in their Events; optional.
	ClusterName string
	// ShippedDelay is how long after a record's success its merge requests
	// are read: GitLab links them in a background job after the success.
	ShippedDelay time.Duration
	// Triggers, when set, carries GitLabDeployments to reconcile at once,
	// e.g. on a GitLab webhook.
	Triggers <-chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]
	// BypassKeys verifies who set a bypass (the admission webhook signs
	// it); without it every bypass is by an unknown user.
	BypassKeys *bypass.Keys

	written writtenObjects
	// retries holds when the environment and shipped phases may next ask
	// GitLab after a failure.
	retries retryTimes
}

// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// phase is one step of a reconcile. A phase that returns an error ends the
// reconcile; the results of the phases that ran are merged.
type phase func(ctx context.Context, s *scope) (ctrl.Result, error)

// Reconcile brings one GitLabDeployment's record in line with its rollout.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// Read from the cache: a copy that lags this controller's own last
	// write cannot patch it back, as every first status write of a
	// reconcile carries the resourceVersion it was read at (checkpoint).
	// A copy older than this controller's own last write is replaced by
	// that write (written).
	cached := &gitlabv1alpha1.GitLabDeployment{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.forget(req.NamespacedName)
			r.retries.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	gld, known, ours := r.written.current(cached)
	s := newScope(gld, r.now())
	s.fresh, s.ours = known, ours
	defer func() { retErr = r.finalizeStatus(ctx, s, &result, retErr) }()

	if !gld.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := r.ensureFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	phases := []phase{r.reconcileValidation, r.reconcileObservation, r.reconcileGate, r.reconcileRecord,
		r.reconcileEnvironment, r.reconcileShipped, r.reconcileSettlement}
	result, err := r.doReconcile(ctx, s, phases)
	if !apierrors.IsConflict(err) {
		return result, err
	}
	// Someone else wrote the object since: run once more on the stored
	// version, with what was observed of the Deployment.
	live := &gitlabv1alpha1.GitLabDeployment{}
	if err := r.liveReader().Get(ctx, req.NamespacedName, live); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	observed := s.observed
	s = newScope(live, s.now)
	s.observed, s.fresh = observed, true
	return r.doReconcile(ctx, s, phases)
}

// doReconcile runs the phases in order and keeps the soonest requeue.
func (r *Reconciler) doReconcile(ctx context.Context, s *scope, phases []phase) (ctrl.Result, error) {
	var res ctrl.Result
	for _, p := range phases {
		pr, err := p(ctx, s)
		res = lowestRequeue(res, pr)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func lowestRequeue(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter > 0 && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}

func (r *Reconciler) ensureFinalizer(ctx context.Context, s *scope) error {
	if controllerutil.ContainsFinalizer(s.gld, gitlabv1alpha1.FinalizerRecord) {
		return nil
	}
	patch := client.MergeFrom(s.gld.DeepCopy())
	controllerutil.AddFinalizer(s.gld, gitlabv1alpha1.FinalizerRecord)
	if err := r.Patch(ctx, s.gld, patch); err != nil {
		return err
	}
	s.base.Finalizers = s.gld.Finalizers
	s.base.ResourceVersion = s.gld.ResourceVersion
	r.written.remember(s.gld)
	return nil
}

// reconcileDelete cancels a running record before the object goes away.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s.gld, gitlabv1alpha1.FinalizerRecord) {
		return ctrl.Result{}, nil
	}
	s.target = rollout.Remembered(rollout.StateGone, &s.gld.Status)
	result, err := r.syncRecord(ctx, s, s.target)
	if err != nil || result.RequeueAfter > 0 {
		if s.now.Sub(s.gld.DeletionTimestamp.Time) < r.FinalizeTimeout {
			return result, err
		}
		r.warn(s.gld, "RecordLeftUnfinished", "Finalize",
			"Gave up marking GitLab deployment %d canceled after %s: %v", s.gld.Status.Record.ID, r.FinalizeTimeout, err)
	}
	patch := client.MergeFrom(s.gld.DeepCopy())
	controllerutil.RemoveFinalizer(s.gld, gitlabv1alpha1.FinalizerRecord)
	s.deleted = true
	return ctrl.Result{}, r.Patch(ctx, s.gld, patch)
}

// liveReader reads from the API server when an API reader is set.
func (r *Reconciler) liveReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// historyReader lists the whole history.
func (r *Reconciler) historyReader() client.Reader {
	if r.HistoryReader != nil {
		return r.HistoryReader
	}
	return r.liveReader()
}

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// SetupWithManager sets up the controller with the Manager. A GitLabDeployment
// is reconciled when it changes and whenever its Deployment does.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&gitlabv1alpha1.GitLabDeployment{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&gitlabv1alpha1.GitLabDeployment{}, newRollouts()).
		Watches(&appsv1.Deployment{}, prioritized(r.rolloutsOfDeployment)).
		Watches(&gitlabv1alpha1.GitLabDeployment{}, prioritized(atPriority(priorityObserve, r.settleableBefore))).
		Watches(&gitlabv1alpha1.GitLabDeployment{}, handler.Funcs{
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.written.caughtUp(e.ObjectNew)
			},
		})
	if r.Triggers != nil {
		b = b.WatchesRawSource(source.Channel(r.Triggers,
			&handler.TypedEnqueueRequestForObject[*gitlabv1alpha1.GitLabDeployment]{}))
	}
	return b.Named("gitlabdeployment").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

// rolloutsOfDeployment maps a Deployment to the rollouts whose record can
// still change, and those ready to settle, each at the priority of what the
// Deployment shows about it (priorityOf); the settled history is not in the
// cache.
func (r *Reconciler) rolloutsOfDeployment(ctx context.Context, obj client.Object) map[reconcile.Request]int {
	rollouts, err := history.View(ctx, r.Client, obj.GetNamespace(), obj.GetName())
	if err != nil {
		return nil
	}
	reqs := make(map[reconcile.Request]int, len(rollouts))
	deploy, _ := obj.(*appsv1.Deployment)
	hash := ""
	if deploy != nil {
		hash = rollout.CurrentHash(deploy)
	}
	now := r.now()
	for i := range rollouts {
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rollouts[i])}
		// A rollout with nothing left to do gets one more reconcile, to
		// settle.
		if rollout.Watched(&rollouts[i], i == len(rollouts)-1, hash) || settleable(&rollouts[i], deploy, rollouts, now) {
			reqs[req] = priorityOf(&rollouts[i], deploy)
		}
	}
	return reqs
}
