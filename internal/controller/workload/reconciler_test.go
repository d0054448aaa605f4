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

package workload

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

func rolloutOf(hash string, approval gitlabv1alpha1.ApprovalState) gitlabv1alpha1.GitLabDeployment {
	gld := gitlabv1alpha1.GitLabDeployment{Spec: gitlabv1alpha1.GitLabDeploymentSpec{PodTemplateHash: hash}}
	if approval != "" {
		gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: approval}
	}
	return gld
}

// The watched rollouts settle most reconciles; the whole history is read
// only when a new rollout may be due or an earlier one decides.
func TestTheHistoryIsReadOnlyWhenTheWatchedRolloutsDoNotDecide(t *testing.T) {
	restored := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
		Annotations: map[string]string{gitlabv1alpha1.AnnotationRestoredTemplate: "a"}}}
	plain := &appsv1.Deployment{}
	cases := []struct {
		name    string
		deploy  *appsv1.Deployment
		hash    string
		watched []gitlabv1alpha1.GitLabDeployment
		want    bool
	}{
		{name: "no rollout yet", deploy: plain, hash: "b", want: true},
		{name: "the newest is of the current template", deploy: plain, hash: "b",
			watched: []gitlabv1alpha1.GitLabDeployment{rolloutOf("b", "")}},
		{name: "a new template", deploy: plain, hash: "c", watched: []gitlabv1alpha1.GitLabDeployment{rolloutOf("b", "")}, want: true},
		{name: "the newest was declined", deploy: plain, hash: "b",
			watched: []gitlabv1alpha1.GitLabDeployment{rolloutOf("b", gitlabv1alpha1.ApprovalRejected)}, want: true},
		{name: "restored, its rollout settled", deploy: restored, hash: "a",
			watched: []gitlabv1alpha1.GitLabDeployment{rolloutOf("b", gitlabv1alpha1.ApprovalRejected)}, want: true},
		{name: "restored, its rollout watched", deploy: restored, hash: "a",
			watched: []gitlabv1alpha1.GitLabDeployment{rolloutOf("a", ""), rolloutOf("b", gitlabv1alpha1.ApprovalRejected)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := needsHistory(tc.deploy, tc.hash, tc.watched); got != tc.want {
				t.Errorf("needsHistory = %v, want %v", got, tc.want)
			}
		})
	}
}
