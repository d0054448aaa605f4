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
	appsv1 "k8s.io/api/apps/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// notARollout reports whether the Deployment's current template must not
// get a GitLabDeployment of its own: a template that GitLab rejected (or
// whose approval timed out) applied again, which stays held without a new
// approval round, or the template rollgate restored after a rejection,
// which is the earlier rollout still running.
func (r *WorkloadReconciler) notARollout(deploy *appsv1.Deployment, hash string, rollouts []gitlabv1alpha1.GitLabDeployment) bool {
	n := len(rollouts)
	if n == 0 {
		return false
	}
	if deploy.Annotations[gitlabv1alpha1.AnnotationRestoredTemplate] == hash {
		return true
	}
	for i := range rollouts {
		if rolloutHash(&rollouts[i]) == hash && declined(&rollouts[i]) {
			return true
		}
	}
	if !declined(&rollouts[n-1]) {
		return false
	}
	for i := range n - 1 {
		if rolloutHash(&rollouts[i]) == hash {
			return true
		}
	}
	return false
}

// declined reports whether a rollout's approval was rejected or timed out.
func declined(gld *gitlabv1alpha1.GitLabDeployment) bool {
	a := gld.Status.Approval
	return a != nil && (a.State == gitlabv1alpha1.ApprovalRejected || a.State == gitlabv1alpha1.ApprovalTimedOut)
}
