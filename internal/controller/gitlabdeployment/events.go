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
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// note formats an Event note within rollout.MaxEventNote.
func note(format string, args ...any) string { return rollout.EventNote(fmt.Sprintf(format, args...)) }

// warn emits a Warning Event on the GitLabDeployment.
func (r *Reconciler) warn(obj *gitlabv1alpha1.GitLabDeployment, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, action, "%s", note(format, args...))
	}
}

// normal emits a Normal Event on the GitLabDeployment.
func (r *Reconciler) normal(obj *gitlabv1alpha1.GitLabDeployment, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, "%s", note(format, args...))
	}
}

// tellDeployment emits an Event on the Deployment about the rollout.
func (r *Reconciler) tellDeployment(deploy *appsv1.Deployment, gld *gitlabv1alpha1.GitLabDeployment, eventType, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(deploy, gld, eventType, reason, action, "%s", note(format, args...))
	}
}

// fromCluster names this rollgate's cluster in an Event note.
func (r *Reconciler) fromCluster() string {
	if r.ClusterName == "" {
		return ""
	}
	return " (cluster " + r.ClusterName + ")"
}
