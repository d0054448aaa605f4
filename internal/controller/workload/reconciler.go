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

// Package workload creates one GitLabDeployment per rollout of each
// Deployment that opts in, and keeps a bounded history of them.
package workload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// DefaultHistoryLimit is how many GitLabDeployments are kept per Deployment.
const DefaultHistoryLimit = 10

// Reconciler creates one GitLabDeployment per rollout of each
// Deployment that opts in with the environment annotation, and keeps a
// bounded history of them.
type Reconciler struct {
	client.Client
	// Recorder emits Events on Deployments.
	Recorder events.EventRecorder
	// HistoryLimit is how many GitLabDeployments to keep per Deployment.
	HistoryLimit int
	// APIReader reads a GitLabDeployment from the API server when the
	// cache may not hold it yet; the client is used if nil.
	APIReader client.Reader
	// HistoryReader lists a Deployment's whole history, the settled
	// rollouts the cache leaves out included (history.Reader); APIReader
	// is used if nil.
	HistoryReader client.Reader
	// MaxConcurrentReconciles is how many Deployments are looked at at once.
	MaxConcurrentReconciles int
	// ClusterName replaces {cluster} in the environment annotations.
	ClusterName string

	memos memos
}

// pruneAfter is how soon the rollouts beyond the history limit are deleted,
// at low priority: after every new rollout of a burst is made.
const pruneAfter = time.Millisecond

// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch
// +kubebuilder:rbac:groups=gitlab.rollgate.dev,resources=gitlabdeployments,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile makes sure the Deployment's current pod template has its
// GitLabDeployment.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	deploy := &appsv1.Deployment{}
	if err := r.Get(ctx, req.NamespacedName, deploy); err != nil {
		if apierrors.IsNotFound(err) {
			r.memos.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !deploy.DeletionTimestamp.IsZero() {
		r.memos.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if err := r.prune(ctx, deploy); err != nil {
		return ctrl.Result{}, err
	}
	if !rollout.OptedIn(deploy.Annotations) {
		r.memos.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	// The cache holds the rollouts rollgate still watches: the newest, and
	// those that can still change. The cache may not hold a rollout created
	// a moment ago: createRollout recognises it by its name and revision
	// instead of making another.
	rollouts, err := history.Of(ctx, r.Client, deploy.Namespace, deploy.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	shown := r.memos.shownBy(req.NamespacedName, rollouts)
	hash := rollout.CurrentHash(deploy)
	if shown && !needsHistory(deploy, hash, rollouts) {
		return ctrl.Result{}, nil
	}
	// A new rollout may be due: its name, whether its template was declined
	// or restored before, and the pruning need the whole history. It is
	// listed from the API server's watch cache, unless the cache does not
	// show the rollout created last yet.
	reader := r.historyReader()
	if !shown {
		reader = r.reader()
	}
	if rollouts, err = history.Live(ctx, reader, deploy.Namespace, deploy.Name); err != nil {
		return ctrl.Result{}, err
	}
	if rollout.NotARollout(deploy, hash, rollouts) {
		return ctrl.Result{}, r.unsettleRestored(ctx, deploy, hash, rollouts)
	}
	if n := len(rollouts); n == 0 || rollout.Hash(&rollouts[n-1]) != hash {
		gld, err := r.createRollout(ctx, deploy, hash, rollouts)
		if err != nil {
			return ctrl.Result{}, err
		}
		r.memos.created(req.NamespacedName, gld.UID)
		logf.FromContext(ctx).Info("Recorded a new rollout", "gitlabdeployment", gld.Name, "podTemplateHash", hash)
		rollouts = append(rollouts, *gld)
	}
	excess := r.beyondLimit(rollouts)
	if len(excess) == 0 {
		return ctrl.Result{}, nil
	}
	// Pruning waits until the new rollouts of a burst are made: a lower
	// priority than any event's.
	r.memos.deferPrune(req.NamespacedName, excess)
	return ctrl.Result{RequeueAfter: pruneAfter, Priority: new(handler.LowPriority)}, nil
}

// needsHistory reports whether the watched rollouts (newest included) do not
// settle what the Deployment's current template needs, so that the whole
// history must be read: its newest rollout is of another template or was
// declined (a template applied again after a rejection is not a new
// rollout), or the template rollgate restored after a rejection has no
// watched rollout yet.
func needsHistory(deploy *appsv1.Deployment, hash string, watched []gitlabv1alpha1.GitLabDeployment) bool {
	n := len(watched)
	if n == 0 {
		return true
	}
	if deploy.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] == hash {
		return !slices.ContainsFunc(watched, func(gld gitlabv1alpha1.GitLabDeployment) bool { return rollout.Hash(&gld) == hash })
	}
	newest := &watched[n-1]
	return rollout.Hash(newest) != hash || rollout.Declined(newest)
}

// unsettleRestored brings the rollout of the template rollgate restored
// after a rejection back into the watch: it is the Deployment's current
// rollout again.
func (r *Reconciler) unsettleRestored(ctx context.Context, deploy *appsv1.Deployment, hash string, rollouts []gitlabv1alpha1.GitLabDeployment) error {
	if deploy.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] != hash {
		return nil
	}
	for i := len(rollouts) - 1; i >= 0; i-- {
		gld := &rollouts[i]
		if rollout.Hash(gld) != hash {
			continue
		}
		if !rollout.IsSettled(gld) {
			return nil
		}
		patch := client.MergeFromWithOptions(gld.DeepCopy(), client.MergeFromWithOptimisticLock{})
		delete(gld.Labels, gitlabv1alpha1.LabelSettled)
		return client.IgnoreNotFound(r.Patch(ctx, gld, patch))
	}
	return nil
}

// createRollout creates the GitLabDeployment of the Deployment's current
// template, under the next free name. A GitLabDeployment of that name with
// the same template and revision is this rollout's, created by an earlier
// reconcile that the cache has not shown yet: it is not created twice.
func (r *Reconciler) createRollout(ctx context.Context, deploy *appsv1.Deployment, hash string, rollouts []gitlabv1alpha1.GitLabDeployment) (*gitlabv1alpha1.GitLabDeployment, error) {
	gld, err := r.newRollout(deploy, hash, rollouts)
	if err != nil {
		return nil, err
	}
	base := gld.Name
	for n := 1; ; n++ {
		err := r.Create(ctx, gld)
		if !apierrors.IsAlreadyExists(err) || n >= 10 {
			return gld, err
		}
		existing := &gitlabv1alpha1.GitLabDeployment{}
		if err := r.reader().Get(ctx, client.ObjectKeyFromObject(gld), existing); client.IgnoreNotFound(err) != nil {
			return nil, err
		}
		if rollout.Hash(existing) == hash && rollout.Revision(existing) == rollout.Revision(gld) {
			return existing, nil
		}
		// An earlier rollout of the same template (kubectl rollout undo),
		// or one still being deleted from the history, has that name.
		gld.Name = fmt.Sprintf("%s-%d", base, n)
		gld.ResourceVersion = ""
	}
}

// reader reads from the API server, for the rare lookup the cache cannot
// answer.
func (r *Reconciler) reader() client.Reader {
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
	return r.reader()
}

// newRollout builds the GitLabDeployment of the Deployment's current template.
func (r *Reconciler) newRollout(deploy *appsv1.Deployment, hash string, rollouts []gitlabv1alpha1.GitLabDeployment) (*gitlabv1alpha1.GitLabDeployment, error) {
	spec, specErr := rollout.SpecFromAnnotations(deploy.Name, deploy.Annotations)
	if err := rollout.ExpandCluster(&spec, r.ClusterName); err != nil && specErr == nil {
		specErr = err
	}
	spec.PodTemplateHash = hash
	// The Deployment's generation numbers its rollouts: every new pod
	// template raises it, and it is known before any rollout is listed.
	revision := max(deploy.Generation, 1)
	seen := 0
	for i := range rollouts {
		if rollout.Hash(&rollouts[i]) == hash {
			seen++
		}
	}
	// kubectl rollout undo brings back a template that had a rollout before:
	// it is a new rollout, so it gets a new name.
	name := rollout.Name(deploy.Name, hash, seen)
	gld := &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   deploy.Namespace,
			Labels:      map[string]string{gitlabv1alpha1.LabelWorkload: rollout.LabelValue(deploy.Name)},
			Annotations: map[string]string{gitlabv1alpha1.AnnotationRevision: strconv.FormatInt(revision, 10)},
			// The record finalizer comes with the object: no write to add it.
			Finalizers: []string{gitlabv1alpha1.FinalizerRecord},
		},
		Spec: spec,
	}
	if specErr != nil {
		rollout.MarkInvalid(gld, specErr)
		r.warnInvalid(deploy, gld)
	}
	if err := controllerutil.SetOwnerReference(deploy, gld, r.Scheme()); err != nil {
		return nil, err
	}
	return gld, nil
}

// warnInvalid tells on the Deployment which annotation is invalid and what
// the rollout does meanwhile.
func (r *Reconciler) warnInvalid(deploy *appsv1.Deployment, gld *gitlabv1alpha1.GitLabDeployment) {
	if r.Recorder == nil {
		return
	}
	invalidErr, ok := errors.AsType[*rollout.InvalidSpecError](rollout.InvalidAnnotation(gld))
	if !ok {
		return
	}
	then := "the rollout is not recorded"
	if gld.Spec.Approval != nil {
		then = "the rollout stays held"
	}
	note := fmt.Sprintf("Invalid annotation on pod template %s: %s; %s until the annotation is fixed and a new rollout starts",
		gld.Spec.PodTemplateHash, invalidErr.Message, then)
	r.Recorder.Eventf(deploy, nil, corev1.EventTypeWarning, invalidErr.Reason, "Record", "%s", rollout.EventNote(note))
}

// beyondLimit returns the oldest rollouts beyond the history limit, those
// not being deleted already.
func (r *Reconciler) beyondLimit(rollouts []gitlabv1alpha1.GitLabDeployment) []gitlabv1alpha1.GitLabDeployment {
	limit := r.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	var out []gitlabv1alpha1.GitLabDeployment
	for i := 0; i < len(rollouts)-limit; i++ {
		if rollouts[i].DeletionTimestamp.IsZero() {
			out = append(out, rollouts[i])
		}
	}
	return out
}

// prune deletes the rollouts of deploy that a reconcile found beyond the
// history limit: the finalizer of one still watched cancels a record still
// running; a settled one has none left and goes at once. A rollout deleted,
// or replaced by another of the same name, since is left alone.
func (r *Reconciler) prune(ctx context.Context, deploy *appsv1.Deployment) error {
	key := client.ObjectKeyFromObject(deploy)
	todo := r.memos.takePrune(key)
	for i, p := range todo {
		gld := &gitlabv1alpha1.GitLabDeployment{ObjectMeta: metav1.ObjectMeta{Namespace: deploy.Namespace, Name: p.name}}
		err := r.Delete(ctx, gld, client.Preconditions{UID: &p.uid})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.memos.returnPrune(key, todo[i:])
			return err
		}
	}
	return nil
}

// SetupWithManager watches Deployments that opt in, for new pod templates.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	optedIn := predicate.NewPredicateFuncs(func(o client.Object) bool { return rollout.OptedIn(o.GetAnnotations()) })
	templateOrOptIn := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				rollout.OptedIn(e.ObjectOld.GetAnnotations()) != rollout.OptedIn(e.ObjectNew.GetAnnotations())
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&appsv1.Deployment{}, builder.WithPredicates(optedIn, templateOrOptIn)).
		Named("workload").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}
