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
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Bounds of the mirrored approvals, as the API declares them.
const (
	maxMirroredRules     = 32
	maxMirroredApprovals = 64
	maxCommentLength     = 1024
)

// setApprovedCondition sets the Approved condition of a gated rollout.
func setApprovedCondition(gld *gitlabv1alpha1.GitLabDeployment, status metav1.ConditionStatus, reason, message string) {
	apimeta.SetStatusCondition(&gld.Status.Conditions, metav1.Condition{Type: gitlabv1alpha1.ConditionApproved,
		Status: status, Reason: reason, Message: message, ObservedGeneration: gld.Generation})
}

func approvedCondition(gld *gitlabv1alpha1.GitLabDeployment) *metav1.Condition {
	return apimeta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionApproved)
}

// mirror copies GitLab's approval state into status and emits one Event per
// approval or rejection not seen before.
func (r *GitLabDeploymentReconciler) mirror(s *recordScope, d *gitlab.Deployment) {
	a := s.gld.Status.Approval
	seen := map[string]bool{}
	for _, old := range a.Approvals {
		seen[old.User+"/"+old.Status] = true
	}
	a.DeploymentID = d.ID
	a.PendingCount = int32(d.PendingApprovalCount) //nolint:gosec // GitLab's count is at most 25.
	a.Rules = mirrorRules(d.Rules)
	a.Approvals = nil
	for _, given := range allApprovals(d) {
		if len(a.Approvals) == maxMirroredApprovals {
			break
		}
		t := metav1.NewTime(given.CreatedAt)
		a.Approvals = append(a.Approvals, gitlabv1alpha1.Approval{User: given.User, Status: given.Status,
			Comment: truncate(given.Comment, maxCommentLength), Time: &t})
		if seen[given.User+"/"+given.Status] {
			continue
		}
		note := "%s %s GitLab deployment #%d"
		args := []any{given.User, given.Status, d.IID}
		if given.Comment != "" {
			note += ": %s"
			args = append(args, truncate(given.Comment, maxCommentLength))
		}
		if given.Status == gitlab.ApprovalRejected {
			r.warn(s.gld, "ApprovalRejected", "Approve", note, args...)
		} else {
			r.normal(s.gld, "ApprovalGiven", "Approve", note, args...)
		}
	}
}

// mirrorRules counts each rule's approvals; pending is per rule, as GitLab
// counts it.
func mirrorRules(rules []gitlab.ApprovalRule) []gitlabv1alpha1.ApprovalRuleStatus {
	var out []gitlabv1alpha1.ApprovalRuleStatus
	for _, rule := range rules {
		if len(out) == maxMirroredRules {
			break
		}
		approved := countApproved(rule.Approvals)
		out = append(out, gitlabv1alpha1.ApprovalRuleStatus{
			Name:     rule.Name,
			Required: int32(rule.RequiredApprovals),                  //nolint:gosec // 1..5 in GitLab.
			Approved: int32(approved),                                //nolint:gosec // bounded by the rule.
			Pending:  int32(max(rule.RequiredApprovals-approved, 0)), //nolint:gosec // bounded by the rule.
		})
	}
	return out
}
