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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// podTemplateHashLabel is the label the Deployment controller puts on the
// ReplicaSets and pods of a template.
const podTemplateHashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// reject rolls a rejected or timed-out rollout back to the last template
// that succeeded (as kubectl rollout undo does) and lets its record be
// canceled. With nothing to go back to, the Deployment stays paused.
func (r *Reconciler) reject(ctx context.Context, s *scope) error {
	s.target = rollout.StateSuperseded
	if rollout.CurrentHash(s.observed.deploy) != s.gld.Status.PodTemplateHash {
		return nil
	}
	template, from, err := r.lastApprovedTemplate(ctx, s)
	if err != nil {
		return err
	}
	if template == nil {
		msg := fmt.Sprintf("No earlier template of Deployment %s succeeded; it stays paused until its template changes", s.observed.deploy.Name)
		s.decideApproval(metav1.ConditionFalse, gitlabv1alpha1.ReasonRejectedTemplateHeld, msg)
		r.warn(s.gld, "NothingToRestore", "Restore", "%s", msg)
		if rollout.Held(s.observed.deploy) {
			return nil
		}
		return r.setHeld(ctx, s.observed.deploy, s.gld.Status.PodTemplateHash, true)
	}
	// The decision is written before the Deployment changes, so that no
	// one sees the restored template without knowing why.
	if err := r.checkpoint(ctx, s); err != nil {
		return err
	}
	// The cache keeps no pod template: the template is replaced on the
	// Deployment as the API server has it, and only if it did not change.
	live := &appsv1.Deployment{}
	if err := r.liveReader().Get(ctx, client.ObjectKeyFromObject(s.observed.deploy), live); err != nil {
		return err
	}
	patch := client.MergeFromWithOptions(live.DeepCopy(), client.MergeFromWithOptimisticLock{})
	live.Spec.Template = *template
	rollout.Release(live)
	if live.Annotations == nil {
		live.Annotations = map[string]string{}
	}
	live.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] = from
	if err := r.Patch(ctx, live, patch); err != nil {
		return err
	}
	s.observed.deploy = live
	logf.FromContext(ctx).Info("Restored the last approved template", "deployment", s.observed.deploy.Name,
		"rejected", s.gld.Status.PodTemplateHash, "restored", from)
	r.normal(s.gld, "RolloutRestored", "Restore", "Restored pod template %s of Deployment %s", from, s.observed.deploy.Name)
	r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeNormal, "RolloutRestored", "Restore",
		"Restored pod template %s: pod template %s was %s in GitLab", from, s.gld.Status.PodTemplateHash, s.gld.Status.Approval.State)
	return nil
}

// lastApprovedTemplate returns the template of the newest earlier rollout
// that succeeded (settled ones included), from its ReplicaSet, without the
// pod-template-hash label.
func (r *Reconciler) lastApprovedTemplate(ctx context.Context, s *scope) (*corev1.PodTemplateSpec, string, error) {
	rollouts, err := r.liveHistory(ctx, s)
	if err != nil {
		return nil, "", err
	}
	hash := ""
	for i := len(rollouts) - 1; i >= 0; i-- {
		gld := &rollouts[i]
		if rollout.Hash(gld) == s.gld.Status.PodTemplateHash {
			continue
		}
		if rollout.Succeeded(gld) {
			hash = rollout.Hash(gld)
			break
		}
	}
	if hash == "" {
		return nil, "", nil
	}
	var sets appsv1.ReplicaSetList
	if err := r.liveReader().List(ctx, &sets, client.InNamespace(s.observed.deploy.Namespace), client.MatchingLabels{podTemplateHashLabel: hash}); err != nil {
		return nil, "", err
	}
	for i := range sets.Items {
		rs := &sets.Items[i]
		if owner := metav1.GetControllerOf(rs); owner == nil || owner.UID != s.observed.deploy.UID {
			continue
		}
		template := rs.Spec.Template.DeepCopy()
		delete(template.Labels, podTemplateHashLabel)
		return template, hash, nil
	}
	return nil, "", nil
}

// holdInvalid pauses the Deployment if this rollout's template is rolling
// out unpaused, unless someone bypassed the approval.
func (r *Reconciler) holdInvalid(ctx context.Context, s *scope) error {
	deploy, err := r.deployment(ctx, s)
	if err != nil || deploy == nil {
		return err
	}
	hash := rollout.Hash(s.gld)
	if hash == "" || rollout.Held(deploy) || !deploy.DeletionTimestamp.IsZero() ||
		deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] != "" {
		return nil
	}
	if state := rollout.Observe(deploy, hash); state != rollout.StateProgressing {
		// Not this template, or complete: nothing to hold.
		return nil
	}
	if err := r.setHeld(ctx, deploy, hash, true); err != nil {
		return err
	}
	msg := "The rollout started without approval while its approval annotation is invalid; paused it: " + s.problem.message
	r.warn(s.gld, gitlabv1alpha1.ReasonHeldLate, "Hold", "%s", msg)
	r.tellDeployment(deploy, s.gld, corev1.EventTypeWarning, gitlabv1alpha1.ReasonHeldLate, "Hold", "%s", msg)
	logf.FromContext(ctx).Info("Paused a rollout whose approval annotation is invalid", "deployment", deploy.Name,
		"podTemplateHash", hash, "reason", s.problem.reason)
	return nil
}
