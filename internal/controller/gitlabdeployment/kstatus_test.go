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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// GitOps tools (Flux's health checks, kubectl wait, Argo CD through its
// kstatus-like checks) read a GitLabDeployment's conditions with kstatus.
func TestGitLabDeploymentStatusReadsRightToKstatus(t *testing.T) {
	cases := []struct {
		name    string
		target  rollout.State
		problem problem
		record  string
		env     *environmentDecision
		want    kstatus.Status
	}{
		{name: "succeeded", target: rollout.StateComplete, record: "success", want: kstatus.CurrentStatus},
		{name: "rolling out", target: rollout.StateProgressing, record: "running", want: kstatus.InProgressStatus},
		{name: "held for approval", target: rollout.StateHeld, want: kstatus.InProgressStatus},
		{name: "waiting for GitLab", target: rollout.StateComplete, problem: problem{reason: "GitLabUnavailable", message: "503"},
			want: kstatus.InProgressStatus},
		{name: "stalled", target: rollout.StateProgressing, problem: problem{reason: "Forbidden", message: "403", stalled: true},
			want: kstatus.FailedStatus},
		{name: "failed", target: rollout.StateDeadlineExceeded, record: "failed", want: kstatus.FailedStatus},
		{name: "canceled", target: rollout.StateSuperseded, record: "canceled", want: kstatus.CurrentStatus},
		{name: "succeeded, environment metadata not synced", target: rollout.StateComplete, record: "success",
			env: &environmentDecision{problem: problem{reason: "AgentNotFound", message: "no agent"}}, want: kstatus.CurrentStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			gld := stepRollout(stepDeployment(nil), nil)
			gld.APIVersion, gld.Kind = gitlabv1alpha1.GroupVersion.String(), "GitLabDeployment"
			gld.Status.Record.Status = tc.record
			summarize(&scope{gld: gld, target: tc.target, problem: tc.problem, synced: true, now: time.Now(), environment: tc.env})
			if tc.env != nil {
				g.Expect(gld.Status.Conditions).To(ContainElement(HaveField("Type", gitlabv1alpha1.ConditionEnvironmentSynced)))
			}
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gld)
			g.Expect(err).NotTo(HaveOccurred())
			res, err := kstatus.Compute(&unstructured.Unstructured{Object: obj})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(tc.want), res.Message)
		})
	}
}
