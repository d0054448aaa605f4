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
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// podTemplateHashLabel is the label the Deployment controller puts on the
// ReplicaSets and pods of a template.
const podTemplateHashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// reject rolls a rejected or timed-out rollout back to the last template
// that succeeded (as kubectl rollout undo does) and lets its record be
// canceled. With nothing to go back to, the Deployment stays paused.
func (r *GitLabDeploymentReconciler) reject(ctx context.Context, s *recordScope) error {
	s.state = RolloutSuperseded
	if TemplateHash(&s.deploy.Spec.Template) != s.gld.Status.PodTemplateHash {
		return nil
	}
	template, from, err := r.lastApprovedTemplate(ctx, s)
	if err != nil {
		return err
	}
	if template == nil {
		msg := fmt.Sprintf("No earlier template of Deployment %s succeeded; it stays paused until its template changes", s.deploy.Name)
		setApprovedCondition(s.gld, metav1.ConditionFalse, ReasonRejectedTemplateHeld, msg)
		r.warn(s.gld, "NothingToRestore", "Restore", "%s", msg)
		if Held(s.deploy) {
			return nil
		}
		return r.setHeld(ctx, s.deploy, s.gld.Status.PodTemplateHash, true)
	}
	// The decision is written before the Deployment changes, so that no
	// one sees the restored template without knowing why.
	if err := r.patchStatus(ctx, s); err != nil {
		return err
	}
	patch := client.MergeFrom(s.deploy.DeepCopy())
	s.deploy.Spec.Template = *template
	release(s.deploy)
	s.deploy.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] = from
	if err := r.Patch(ctx, s.deploy, patch); err != nil {
		return err
	}
	logf.FromContext(ctx).Info("Restored the last approved template", "deployment", s.deploy.Name,
		"rejected", s.gld.Status.PodTemplateHash, "restored", from)
	r.normal(s.gld, "RolloutRestored", "Restore", "Restored pod template %s of Deployment %s", from, s.deploy.Name)
	if r.Recorder != nil {
		r.Recorder.Eventf(s.deploy, s.gld, "Normal", "RolloutRestored", "Restore",
			"Restored pod template %s: pod template %s was %s in GitLab", from, s.gld.Status.PodTemplateHash, s.gld.Status.Approval.State)
	}
	return nil
}

// lastApprovedTemplate returns the template of the newest earlier rollout
// that succeeded, from its ReplicaSet, without the pod-template-hash label.
func (r *GitLabDeploymentReconciler) lastApprovedTemplate(ctx context.Context, s *recordScope) (*corev1.PodTemplateSpec, string, error) {
	rollouts, err := rolloutsOf(ctx, r.Client, s.gld.Namespace, s.gld.Spec.WorkloadRef.Name)
	if err != nil {
		return nil, "", err
	}
	hash := ""
	for i := len(rollouts) - 1; i >= 0; i-- {
		gld := &rollouts[i]
		if rolloutHash(gld) == s.gld.Status.PodTemplateHash {
			continue
		}
		if gld.Status.Phase == gitlabv1alpha1.PhaseSucceeded || gld.Status.Record.Status == gitlab.StatusSuccess {
			hash = rolloutHash(gld)
			break
		}
	}
	if hash == "" {
		return nil, "", nil
	}
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	var sets appsv1.ReplicaSetList
	if err := reader.List(ctx, &sets, client.InNamespace(s.deploy.Namespace), client.MatchingLabels{podTemplateHashLabel: hash}); err != nil {
		return nil, "", err
	}
	for i := range sets.Items {
		rs := &sets.Items[i]
		if owner := metav1.GetControllerOf(rs); owner == nil || owner.UID != s.deploy.UID {
			continue
		}
		template := rs.Spec.Template.DeepCopy()
		delete(template.Labels, podTemplateHashLabel)
		return template, hash, nil
	}
	return nil, "", nil
}
