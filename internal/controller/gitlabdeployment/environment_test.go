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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// The EnvironmentSynced condition says what the environment phase decided,
// and stays as it was when the phase decided nothing.
func TestSetEnvironmentSyncedCondition(t *testing.T) {
	conflicts := &gitlabv1alpha1.EnvironmentStatus{Conflicts: []string{`external-url: GitLab has "a", set by someone else`}}
	cases := []struct {
		name     string
		decision *environmentDecision
		status   *gitlabv1alpha1.EnvironmentStatus
		want     *metav1.Condition
	}{
		{"synced", &environmentDecision{}, &gitlabv1alpha1.EnvironmentStatus{Desired: "x"},
			&metav1.Condition{Status: metav1.ConditionTrue, Reason: gitlabv1alpha1.ReasonEnvironmentSynced}},
		{"values kept", &environmentDecision{}, conflicts,
			&metav1.Condition{Status: metav1.ConditionFalse, Reason: gitlabv1alpha1.ReasonEnvironmentConflict}},
		{"failed", &environmentDecision{problem: problem{reason: gitlabv1alpha1.ReasonInvalidTier, message: "bad"}}, conflicts,
			&metav1.Condition{Status: metav1.ConditionFalse, Reason: gitlabv1alpha1.ReasonInvalidTier}},
		{"no annotation", &environmentDecision{absent: true}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			gld := &gitlabv1alpha1.GitLabDeployment{}
			gld.Spec.Environment = "production"
			setCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced, metav1.ConditionUnknown, "Before", "")
			gld.Status.Environment = tc.status
			setEnvironmentSyncedCondition(gld, tc.decision)
			got := findCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced)
			if tc.want == nil {
				g.Expect(got).To(BeNil())
				return
			}
			g.Expect(got).NotTo(BeNil())
			g.Expect(got.Status).To(Equal(tc.want.Status))
			g.Expect(got.Reason).To(Equal(tc.want.Reason))
		})
	}

	g := NewWithT(t)
	gld := &gitlabv1alpha1.GitLabDeployment{}
	setCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced, metav1.ConditionFalse, "AgentNotFound", "no agent")
	setEnvironmentSyncedCondition(gld, nil)
	g.Expect(findCondition(gld, gitlabv1alpha1.ConditionEnvironmentSynced).Reason).To(Equal("AgentNotFound"), "left as it was")
}

// After a failed request the same request waits for the retry; a request
// for changed annotations does not.
func TestRetryTimesWaitForTheSameRequestOnly(t *testing.T) {
	g := NewWithT(t)
	var r retryTimes
	now := time.Now()
	key := retryKey{name: types.NamespacedName{Namespace: "shop", Name: "web-1"}, phase: "environment"}
	g.Expect(r.wait(key, "a", now)).To(BeZero())
	r.set(key, "a", now.Add(time.Minute))
	g.Expect(r.wait(key, "a", now)).To(Equal(time.Minute))
	g.Expect(r.wait(key, "b", now)).To(BeZero(), "the annotations changed")
	g.Expect(r.wait(key, "a", now.Add(time.Minute))).To(BeZero(), "retry time reached")
	r.forget(key.name)
	g.Expect(r.wait(key, "a", now)).To(BeZero())
}
