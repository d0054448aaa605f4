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

// RolloutState is what a Deployment shows about one rollout.
type RolloutState string

const (
	// RolloutProgressing: the rollout's template is being rolled out.
	RolloutProgressing RolloutState = "Progressing"
	// RolloutHeld: the rollout's template is paused before it started.
	RolloutHeld RolloutState = "Held"
	// RolloutComplete: complete by the rules of kubectl rollout status.
	RolloutComplete RolloutState = "Complete"
	// RolloutDeadlineExceeded: Progressing=False, ProgressDeadlineExceeded.
	RolloutDeadlineExceeded RolloutState = "DeadlineExceeded"
	// RolloutSuperseded: a newer template replaced the rollout's.
	RolloutSuperseded RolloutState = "Superseded"
	// RolloutGone: the Deployment was deleted or is being deleted.
	RolloutGone RolloutState = "Gone"
)

// progressDeadlineExceeded is the reason the Deployment controller gives.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// ObserveRollout says what deploy shows about the rollout of the template
// with hash; deploy may be nil when it does not exist.
func ObserveRollout(deploy *appsv1.Deployment, hash string) RolloutState {
	switch {
	case deploy == nil || !deploy.DeletionTimestamp.IsZero():
		return RolloutGone
	case TemplateHash(&deploy.Spec.Template) != hash:
		return RolloutSuperseded
	case deploy.Status.ObservedGeneration < deploy.Generation:
		// The Deployment controller has not seen the change yet.
		if deploy.Spec.Paused {
			return RolloutHeld
		}
		return RolloutProgressing
	case deadlineExceeded(deploy):
		return RolloutDeadlineExceeded
	case complete(deploy):
		return RolloutComplete
	case deploy.Spec.Paused:
		return RolloutHeld
	default:
		return RolloutProgressing
	}
}

// complete applies kubectl rollout status's rules to an observed Deployment:
// every replica runs the new template, is available, and no old one is left.
func complete(deploy *appsv1.Deployment) bool {
	want := int32(1)
	if deploy.Spec.Replicas != nil {
		want = *deploy.Spec.Replicas
	}
	st := deploy.Status
	return st.UpdatedReplicas == want && st.Replicas == st.UpdatedReplicas && st.AvailableReplicas == st.UpdatedReplicas
}

func deadlineExceeded(deploy *appsv1.Deployment) bool {
	for _, c := range deploy.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Status == corev1.ConditionFalse && c.Reason == progressDeadlineExceeded
		}
	}
	return false
}

// progressingCondition returns the Deployment's Progressing condition, if any.
func progressingCondition(deploy *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range deploy.Status.Conditions {
		if deploy.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &deploy.Status.Conditions[i]
		}
	}
	return nil
}
