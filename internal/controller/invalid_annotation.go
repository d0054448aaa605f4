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
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// AnnotationInvalid is set by the workload controller on a GitLabDeployment
// made from Deployment annotations that could not be parsed (the approval or
// tag annotation), as "<Reason>: <message>". The spec then holds what the
// mistake defaults to (the default gate, no tag); the GitLabDeployment
// controller stalls the rollout with that reason instead of recording it,
// and keeps a gated rollout held. To go on, fix the annotation and start a
// new rollout (a new pod template, e.g. kubectl rollout restart).
const AnnotationInvalid = "gitlab.rollgate.dev/invalid-annotation"

// markInvalid records on a new GitLabDeployment why its Deployment's
// annotations could not be parsed.
func markInvalid(gld *gitlabv1alpha1.GitLabDeployment, err error) {
	invalidErr, ok := errors.AsType[*InvalidSpecError](err)
	if !ok {
		invalidErr = &InvalidSpecError{Reason: ReasonInvalidSpec, Message: err.Error()}
	}
	if gld.Annotations == nil {
		gld.Annotations = map[string]string{}
	}
	gld.Annotations[AnnotationInvalid] = invalidErr.Reason + ": " + invalidErr.Message
}

// invalidAnnotation returns the error the workload controller recorded on a
// GitLabDeployment, or nil.
func invalidAnnotation(gld *gitlabv1alpha1.GitLabDeployment) error {
	v, ok := gld.Annotations[AnnotationInvalid]
	if !ok {
		return nil
	}
	reason, message, found := strings.Cut(v, ": ")
	if !found || reason == "" || strings.ContainsAny(reason, " \t") {
		return &InvalidSpecError{Reason: ReasonInvalidSpec, Message: v}
	}
	return &InvalidSpecError{Reason: reason, Message: message}
}

// validate checks what the workload controller could not parse, then the
// spec itself.
func validate(gld *gitlabv1alpha1.GitLabDeployment) error {
	if err := invalidAnnotation(gld); err != nil {
		return err
	}
	return ValidateSpec(&gld.Spec)
}

// stallInvalid stalls a rollout whose spec or annotations are invalid. A
// gated one stays held (fail closed): if its template slipped past the
// admission webhook, the Deployment is paused now.
func (r *GitLabDeploymentReconciler) stallInvalid(ctx context.Context, s *recordScope, err error) (ctrl.Result, error) {
	s.stall(err)
	r.warn(s.gld, s.reason, "Validate", "%s", s.message)
	if s.gld.Spec.Approval != nil {
		if err := r.holdInvalid(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, reconcile.TerminalError(err)
}

// holdInvalid pauses the Deployment if this rollout's template is rolling
// out unpaused, unless someone bypassed the approval.
func (r *GitLabDeploymentReconciler) holdInvalid(ctx context.Context, s *recordScope) error {
	deploy := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: s.gld.Namespace, Name: s.gld.Spec.WorkloadRef.Name}
	if err := r.Get(ctx, key, deploy); err != nil {
		return client.IgnoreNotFound(err)
	}
	hash := rolloutHash(s.gld)
	if hash == "" || Held(deploy) || !deploy.DeletionTimestamp.IsZero() ||
		deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] != "" {
		return nil
	}
	if state := ObserveRollout(deploy, hash); state != RolloutProgressing {
		// Not this template, or complete: nothing to hold.
		return nil
	}
	if err := r.setHeld(ctx, deploy, hash, true); err != nil {
		return err
	}
	msg := "The rollout started without approval while its approval annotation is invalid; paused it: " + s.message
	r.warn(s.gld, ReasonHeldLate, "Hold", "%s", msg)
	if r.Recorder != nil {
		r.Recorder.Eventf(deploy, s.gld, "Warning", ReasonHeldLate, "Hold", "%s", msg)
	}
	logf.FromContext(ctx).Info("Paused a rollout whose approval annotation is invalid", "deployment", deploy.Name,
		"podTemplateHash", hash, "reason", s.reason)
	return nil
}
