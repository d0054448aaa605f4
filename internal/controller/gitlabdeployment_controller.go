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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
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
	"github.com/rollgate/rollgate/internal/gitlab"
)

// FinalizerRecord keeps a GitLabDeployment until its GitLab record is no
// longer running: a rollout deleted mid-way is recorded as canceled.
const FinalizerRecord = "gitlab.rollgate.dev/record"

// GitLabDeploymentReconciler keeps each GitLabDeployment's GitLab record true
// to its rollout, sending only transitions.
type GitLabDeploymentReconciler struct {
	client.Client
	// Recorder emits Events on GitLabDeployments.
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
	// APIReader reads ReplicaSets when a rejected rollout is rolled back;
	// the client is used if nil.
	APIReader client.Reader
	// ApprovalPolling bounds how often GitLab is asked about held rollouts.
	ApprovalPolling ApprovalPolling
	// MaxConcurrentReconciles is how many GitLabDeployments are reconciled
	// at once; each is only ever reconciled by one worker at a time.
	MaxConcurrentReconciles int
	// Triggers, when set, carries GitLabDeployments to reconcile at once,
	// e.g. on a GitLab webhook.
	Triggers <-chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]
}

// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one GitLabDeployment's record in line with its rollout.
func (r *GitLabDeploymentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// Read from the API server, not the cache: the status is the memory of
	// the exactly-once protocol, and a copy that lags this controller's own
	// last write would patch back what that write changed.
	gld := &gitlabv1alpha1.GitLabDeployment{}
	if err := r.liveReader().Get(ctx, req.NamespacedName, gld); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &recordScope{gld: gld, base: gld.DeepCopy(), now: r.now()}
	defer func() { r.finalizeStatus(ctx, s, &result, &retErr) }()

	if !gld.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(gld, FinalizerRecord) {
		patch := client.MergeFrom(gld.DeepCopy())
		controllerutil.AddFinalizer(gld, FinalizerRecord)
		if err := r.Patch(ctx, gld, patch); err != nil {
			return ctrl.Result{}, err
		}
		s.base.Finalizers = gld.Finalizers
		s.base.ResourceVersion = gld.ResourceVersion
	}
	if err := validate(gld); err != nil {
		return r.stallInvalid(ctx, s, err)
	}
	if err := r.observe(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	gate, err := r.reconcileGate(ctx, s)
	if err != nil {
		return gate, err
	}
	result, err = r.syncRecord(ctx, s)
	if gate.RequeueAfter > 0 && (result.RequeueAfter == 0 || gate.RequeueAfter < result.RequeueAfter) {
		result.RequeueAfter = gate.RequeueAfter
	}
	return result, err
}

// reconcileDelete cancels a running record before the object goes away.
func (r *GitLabDeploymentReconciler) reconcileDelete(ctx context.Context, s *recordScope) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s.gld, FinalizerRecord) {
		return ctrl.Result{}, nil
	}
	s.state = RolloutGone
	result, err := r.syncRecord(ctx, s)
	if err != nil || result.RequeueAfter > 0 {
		if s.now.Sub(s.gld.DeletionTimestamp.Time) < r.FinalizeTimeout {
			return result, err
		}
		r.warn(s.gld, "RecordLeftUnfinished", "Finalize",
			"Gave up marking GitLab deployment %d canceled after %s: %v", s.gld.Status.Record.ID, r.FinalizeTimeout, err)
	}
	patch := client.MergeFrom(s.gld.DeepCopy())
	controllerutil.RemoveFinalizer(s.gld, FinalizerRecord)
	s.deleted = true
	return ctrl.Result{}, r.Patch(ctx, s.gld, patch)
}

// observe reads the Deployment and the newer rollouts of it, and says what
// they show about this rollout.
func (r *GitLabDeploymentReconciler) observe(ctx context.Context, s *recordScope) error {
	gld := s.gld
	deploy := &appsv1.Deployment{}
	err := r.Get(ctx, types.NamespacedName{Namespace: gld.Namespace, Name: gld.Spec.WorkloadRef.Name}, deploy)
	switch {
	case apierrors.IsNotFound(err):
		deploy = nil
	case err != nil:
		return err
	}
	s.deploy = deploy
	hash := gld.Spec.PodTemplateHash
	if hash == "" {
		hash = gld.Status.PodTemplateHash
	}
	if hash == "" && deploy != nil {
		hash = TemplateHash(&deploy.Spec.Template)
	}
	gld.Status.PodTemplateHash = hash
	s.state = ObserveRollout(deploy, hash)
	if s.state != RolloutGone && s.state != RolloutSuperseded {
		newer, err := r.hasNewerRollout(ctx, gld)
		if err != nil {
			return err
		}
		if newer {
			s.state = RolloutSuperseded
		}
	}
	observeRollout(gld, deploy, s.state, s.now)
	return nil
}

func (r *GitLabDeploymentReconciler) hasNewerRollout(ctx context.Context, gld *gitlabv1alpha1.GitLabDeployment) (bool, error) {
	rollouts, err := rolloutsOf(ctx, r.Client, gld.Namespace, gld.Spec.WorkloadRef.Name)
	if err != nil {
		return false, err
	}
	for i := range rollouts {
		if rollouts[i].UID != gld.UID && compareRollouts(rollouts[i], *gld) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// liveReader reads from the API server when an API reader is set.
func (r *GitLabDeploymentReconciler) liveReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

func (r *GitLabDeploymentReconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *GitLabDeploymentReconciler) warn(obj *gitlabv1alpha1.GitLabDeployment, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, "Warning", reason, action, note, args...)
	}
}

func (r *GitLabDeploymentReconciler) normal(obj *gitlabv1alpha1.GitLabDeployment, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, "Normal", reason, action, note, args...)
	}
}

// SetupWithManager sets up the controller with the Manager. A GitLabDeployment
// is reconciled when it changes and whenever its Deployment does.
func (r *GitLabDeploymentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&gitlabv1alpha1.GitLabDeployment{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfDeployment))
	if r.Triggers != nil {
		b = b.WatchesRawSource(source.Channel(r.Triggers,
			&handler.TypedEnqueueRequestForObject[*gitlabv1alpha1.GitLabDeployment]{}))
	}
	return b.Named("gitlabdeployment").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

func (r *GitLabDeploymentReconciler) rolloutsOfDeployment(ctx context.Context, obj client.Object) []reconcile.Request {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{workloadIndex: obj.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	hash := ""
	if deploy, ok := obj.(*appsv1.Deployment); ok {
		hash = TemplateHash(&deploy.Spec.Template)
	}
	for i := range list.Items {
		// A rejected template applied again is watched so that it is kept held.
		if settled(&list.Items[i]) && rolloutHash(&list.Items[i]) != hash {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// settled reports whether a rollout can no longer change its record: it was
// canceled, or replaced after it finished. A failed or succeeded rollout
// that is still current can (failed → success, success → canceled on
// deletion is not done), so it stays watched.
func settled(gld *gitlabv1alpha1.GitLabDeployment) bool {
	return gld.Status.Phase == gitlabv1alpha1.PhaseCanceled && gld.Status.Record.Intent == ""
}
