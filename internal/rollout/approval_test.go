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
	"testing"

	. "github.com/onsi/gomega"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

func TestRecordSourceNeverReadsNoPendingApprovalAsApproval(t *testing.T) {
	approved := gitlab.Approval{User: "alice", Status: gitlab.ApprovalApproved}
	rule := func(required int, approvals ...gitlab.Approval) gitlab.ApprovalRule {
		return gitlab.ApprovalRule{Name: "r", RequiredApprovals: required, Approvals: approvals}
	}
	cases := []struct {
		name       string
		d          gitlab.Deployment
		wantState  gitlabv1alpha1.ApprovalState
		wantReason string
	}{
		{"no rules, nothing pending (unprotected, or approvals not computed)", gitlab.Deployment{IID: 1, Status: "running"},
			gitlabv1alpha1.ApprovalAwaiting, gitlabv1alpha1.ReasonApprovalRulesNotFound},
		{"pending", gitlab.Deployment{IID: 1, PendingApprovalCount: 1, Rules: []gitlab.ApprovalRule{rule(1)}},
			gitlabv1alpha1.ApprovalAwaiting, gitlabv1alpha1.ReasonAwaitingApproval},
		{"every rule met", gitlab.Deployment{IID: 1, Rules: []gitlab.ApprovalRule{rule(1, approved)}},
			gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ReasonApproved},
		{"a rule reported unmet with nothing pending", gitlab.Deployment{IID: 1, Rules: []gitlab.ApprovalRule{rule(1, approved), rule(2, approved)}},
			gitlabv1alpha1.ApprovalAwaiting, gitlabv1alpha1.ReasonApprovalRulesNotFound},
		{"legacy unified count met", gitlab.Deployment{IID: 1, Approvals: []gitlab.Approval{approved}},
			gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ReasonApproved},
		{"rejected", gitlab.Deployment{IID: 1, Approvals: []gitlab.Approval{{User: "bob", Status: gitlab.ApprovalRejected}}},
			gitlabv1alpha1.ApprovalRejected, gitlabv1alpha1.ReasonRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			v := VerdictOf(gitlabv1alpha1.ApprovalSourceRecord, &tc.d)
			g.Expect(v.State).To(Equal(tc.wantState))
			g.Expect(v.Reason).To(Equal(tc.wantReason))
		})
	}
}
