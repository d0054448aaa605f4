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

// Package rollout is rollgate's pure rollout logic: the identity of a
// rollout (its pod template hash), what a Deployment shows about it, what
// its GitLab record must say, the workload annotations, holding and
// releasing a gated Deployment, and the approval verdict. Nothing here
// reads or writes the cluster or GitLab.
package rollout

import (
	"fmt"
	"hash/fnv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// TemplateHash is the identity of a rollout: the hash the Deployment
// controller gives the ReplicaSet of a pod template (its pod-template-hash
// label, as long as the Deployment has had no hash collision).
func TemplateHash(template *corev1.PodTemplateSpec) string {
	hasher := fnv.New32a()
	_, _ = fmt.Fprintf(hasher, "%v", dump.ForHash(*template))
	return rand.SafeEncodeString(fmt.Sprint(hasher.Sum32()))
}

// State is what a Deployment shows about one rollout.
type State string

const (
	// StateProgressing: the rollout's template is being rolled out.
	StateProgressing State = "Progressing"
	// StateHeld: the rollout's template is paused before it started.
	StateHeld State = "Held"
	// StateComplete: complete by the rules of kubectl rollout status.
	StateComplete State = "Complete"
	// StateDeadlineExceeded: Progressing=False, ProgressDeadlineExceeded.
	StateDeadlineExceeded State = "DeadlineExceeded"
	// StateSuperseded: a newer template replaced the rollout's.
	StateSuperseded State = "Superseded"
	// StateGone: the Deployment was deleted or is being deleted.
	StateGone State = "Gone"
)

// progressDeadlineExceeded is the reason the Deployment controller gives.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// Observe says what deploy shows about the rollout of the template with
// hash; deploy may be nil when it does not exist.
func Observe(deploy *appsv1.Deployment, hash string) State {
	switch {
	case deploy == nil || !deploy.DeletionTimestamp.IsZero():
		return StateGone
	case CurrentHash(deploy) != hash:
		return StateSuperseded
	case deploy.Status.ObservedGeneration < deploy.Generation:
		// The Deployment controller has not seen the change yet.
		if deploy.Spec.Paused {
			return StateHeld
		}
		return StateProgressing
	case deadlineExceeded(deploy):
		return StateDeadlineExceeded
	case complete(deploy):
		return StateComplete
	case deploy.Spec.Paused:
		return StateHeld
	default:
		return StateProgressing
	}
}

// complete applies kubectl rollout status's rules to an observed Deployment:
// every replica runs the new template, is available, and no old one is left.
func complete(deploy *appsv1.Deployment) bool {
	want := DesiredReplicas(deploy)
	st := deploy.Status
	return st.UpdatedReplicas == want && st.Replicas == st.UpdatedReplicas && st.AvailableReplicas == st.UpdatedReplicas
}

// DesiredReplicas is the Deployment's replica count (1 when unset).
func DesiredReplicas(deploy *appsv1.Deployment) int32 {
	if deploy.Spec.Replicas != nil {
		return *deploy.Spec.Replicas
	}
	return 1
}

func deadlineExceeded(deploy *appsv1.Deployment) bool {
	c := ProgressingCondition(deploy)
	return c != nil && c.Status == corev1.ConditionFalse && c.Reason == progressDeadlineExceeded
}

// ProgressingCondition returns the Deployment's Progressing condition, if any.
func ProgressingCondition(deploy *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range deploy.Status.Conditions {
		if deploy.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &deploy.Status.Conditions[i]
		}
	}
	return nil
}

// CurrentHash is the hash of the Deployment's pod template: computed from
// the template, or, for a copy from rollgate's cache whose template was
// dropped, the hash computed before it was dropped. A Deployment from the
// API server always has a template (the API requires containers), so the
// annotation of a user is never taken for it.
func CurrentHash(deploy *appsv1.Deployment) string {
	if len(deploy.Spec.Template.Spec.Containers) == 0 {
		if h, ok := deploy.Annotations[cachedHashAnnotation]; ok {
			return h
		}
	}
	return TemplateHash(&deploy.Spec.Template)
}
