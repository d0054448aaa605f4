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

package rollout

import (
	appsv1 "k8s.io/api/apps/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Gated reports whether a Deployment asks for its rollouts to wait for
// GitLab's approval. An approval annotation that is present but cannot be
// parsed gates too (fail closed): a typo never turns the gate off.
func Gated(deploy *appsv1.Deployment) bool {
	if !OptedIn(deploy.Annotations) {
		return false
	}
	gate, err := ParseApproval(deploy.Annotations[gitlabv1alpha1.AnnotationApproval])
	return err != nil || gate != nil
}

// Held reports whether rollgate holds the Deployment's current template.
func Held(deploy *appsv1.Deployment) bool {
	return deploy.Spec.Paused && deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] == CurrentHash(deploy)
}

// Holds reports whether the Deployment is paused, with rollgate's hold
// marker, on the template with hash.
func Holds(deploy *appsv1.Deployment, hash string) bool {
	return deploy != nil && deploy.Spec.Paused && CurrentHash(deploy) == hash &&
		deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] != ""
}

// Hold pauses the Deployment and marks the held template.
func Hold(deploy *appsv1.Deployment, hash string) {
	deploy.Spec.Paused = true
	if deploy.Annotations == nil {
		deploy.Annotations = map[string]string{}
	}
	deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] = hash
}

// Release unpauses the Deployment and removes the hold marker.
func Release(deploy *appsv1.Deployment) {
	deploy.Spec.Paused = false
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
}

// CarryHold keeps rollgate's hold marker on an update that does not change
// the template, in case the writer replaced the annotations.
func CarryHold(deploy, old *appsv1.Deployment) {
	v, ok := old.Annotations[gitlabv1alpha1.AnnotationHeldTemplate]
	if !ok || !old.Spec.Paused {
		return
	}
	if deploy.Annotations == nil {
		deploy.Annotations = map[string]string{}
	}
	if _, has := deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate]; !has {
		deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] = v
	}
}

// TemplateApproved reports whether a rollout of the template was approved
// or bypassed, or ran to completion before the Deployment was gated.
func TemplateApproved(rollouts []gitlabv1alpha1.GitLabDeployment, hash string) bool {
	for i := range rollouts {
		gld := &rollouts[i]
		if Hash(gld) != hash {
			continue
		}
		if a := gld.Status.Approval; a != nil {
			if a.State == gitlabv1alpha1.ApprovalApproved || a.State == gitlabv1alpha1.ApprovalBypassed {
				return true
			}
			continue
		}
		if gld.Status.Phase == gitlabv1alpha1.PhaseSucceeded {
			return true
		}
	}
	return false
}

// DropBypass removes the bypass and who set it from a Deployment's
// annotations: spent, or left from an earlier template.
func DropBypass(deploy *appsv1.Deployment) {
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypass)
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypassedBy)
}

// Declined reports whether a rollout's approval was rejected or timed out.
func Declined(gld *gitlabv1alpha1.GitLabDeployment) bool {
	a := gld.Status.Approval
	return a != nil && (a.State == gitlabv1alpha1.ApprovalRejected || a.State == gitlabv1alpha1.ApprovalTimedOut)
}

// NotARollout reports whether the Deployment's current template must not
// get a GitLabDeployment of its own: a template that GitLab rejected (or
// whose approval timed out) applied again, which stays held without a new
// approval round, or the template rollgate restored after a rejection,
// which is the earlier rollout still running. rollouts are oldest first.
func NotARollout(deploy *appsv1.Deployment, hash string, rollouts []gitlabv1alpha1.GitLabDeployment) bool {
	n := len(rollouts)
	if n == 0 {
		return false
	}
	if deploy.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] == hash {
		return true
	}
	for i := range rollouts {
		if Hash(&rollouts[i]) == hash && Declined(&rollouts[i]) {
			return true
		}
	}
	if !Declined(&rollouts[n-1]) {
		return false
	}
	for i := range n - 1 {
		if Hash(&rollouts[i]) == hash {
			return true
		}
	}
	return false
}

// ApprovalEnvironment is where the Pipeline source looks for the CI job
// deployment that carries a rollout's approvals.
func ApprovalEnvironment(gld *gitlabv1alpha1.GitLabDeployment) string {
	if a := gld.Spec.Approval; a != nil && a.Environment != "" {
		return a.Environment
	}
	return gld.Spec.Environment
}
