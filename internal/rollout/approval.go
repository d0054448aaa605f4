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
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Verdict is what GitLab's approval state says about a held rollout.
type Verdict struct {
	// State is Awaiting, Approved or Rejected.
	State gitlabv1alpha1.ApprovalState
	// Reason and Message are those of the Approved condition.
	Reason, Message string
}

// VerdictOf maps GitLab's view of the deployment carrying the approvals to
// a decision. Any rejection rejects. For the Pipeline source the job's
// deployment must be blocked with approvals pending to stay held; once it
// runs or succeeds the rollout is released, and if it fails or is canceled
// the rollout is rejected.
func VerdictOf(source gitlabv1alpha1.ApprovalSource, d *gitlab.Deployment) Verdict {
	if d.Rejected() {
		return Verdict{gitlabv1alpha1.ApprovalRejected, gitlabv1alpha1.ReasonRejected, rejectionMessage(d)}
	}
	pending := Verdict{gitlabv1alpha1.ApprovalAwaiting, gitlabv1alpha1.ReasonAwaitingApproval, pendingMessage(d)}
	approved := Verdict{gitlabv1alpha1.ApprovalApproved, gitlabv1alpha1.ReasonApproved,
		fmt.Sprintf("GitLab deployment #%d is approved", d.IID)}
	if source == gitlabv1alpha1.ApprovalSourceRecord {
		switch {
		case d.PendingApprovalCount > 0:
			return pending
		case approvalsMet(d):
			return approved
		}
		// No pending approval is not an approval: GitLab reports none when
		// the environment has no approval rules, and, before it computed
		// approvals for deployments created through the API, for every
		// such deployment. Fail closed.
		return Verdict{gitlabv1alpha1.ApprovalAwaiting, gitlabv1alpha1.ReasonApprovalRulesNotFound, fmt.Sprintf(
			"GitLab reports no approval rules and no approvals for GitLab deployment #%d in %s: protect the environment "+
				"with deployment approval rules (GitLab Premium or Ultimate, on a version that computes approvals of deployments "+
				"created through the API; older versions compute them only for blocked CI jobs: use source=Pipeline there), "+
				"or release the rollout with the %s annotation",
			d.IID, d.Environment, gitlabv1alpha1.AnnotationApprovalBypass)}
	}
	switch d.Status {
	case gitlab.StatusBlocked:
		if d.PendingApprovalCount > 0 {
			return pending
		}
		return approved
	case gitlab.StatusRunning, gitlab.StatusSuccess:
		approved.Message = fmt.Sprintf("The CI job of GitLab deployment #%d is %s", d.IID, d.Status)
		return approved
	case gitlab.StatusFailed, gitlab.StatusCanceled, gitlab.StatusSkipped:
		return Verdict{gitlabv1alpha1.ApprovalRejected, gitlabv1alpha1.ReasonPipelineJobFailed,
			fmt.Sprintf("The CI job of GitLab deployment #%d ended %s", d.IID, d.Status)}
	}
	pending.Message = fmt.Sprintf("The CI job of GitLab deployment #%d is %s", d.IID, d.Status)
	return pending
}

// approvalsMet reports whether the approvals GitLab reports with a
// deployment meet its environment's rules: every rule has its required
// approvals, or, with the legacy unified count and no rules, at least one
// approval was given and none is pending.
func approvalsMet(d *gitlab.Deployment) bool {
	if d.PendingApprovalCount > 0 {
		return false
	}
	if len(d.Rules) == 0 {
		return countApproved(d.Approvals) > 0
	}
	for _, rule := range d.Rules {
		if rule.RequiredApprovals <= 0 || countApproved(rule.Approvals) < rule.RequiredApprovals {
			return false
		}
	}
	return true
}

func rejectionMessage(d *gitlab.Deployment) string {
	for _, a := range AllApprovals(d) {
		if a.Status == gitlab.ApprovalRejected {
			msg := fmt.Sprintf("%s rejected GitLab deployment #%d", a.User, d.IID)
			if a.Comment != "" {
				msg += ": " + a.Comment
			}
			return msg
		}
	}
	return fmt.Sprintf("GitLab deployment #%d was rejected", d.IID)
}

func pendingMessage(d *gitlab.Deployment) string {
	var msg strings.Builder
	fmt.Fprintf(&msg, "GitLab deployment #%d waits for %d more approvals", d.IID, d.PendingApprovalCount)
	for _, rule := range d.Rules {
		fmt.Fprintf(&msg, "; %s: %d of %d", rule.Name, countApproved(rule.Approvals), rule.RequiredApprovals)
	}
	return msg.String()
}

// AllApprovals are the deployment's approvals, from the rules when GitLab
// only lists them there.
func AllApprovals(d *gitlab.Deployment) []gitlab.Approval {
	if len(d.Approvals) > 0 {
		return d.Approvals
	}
	var out []gitlab.Approval
	for _, rule := range d.Rules {
		out = append(out, rule.Approvals...)
	}
	return out
}

func countApproved(approvals []gitlab.Approval) int {
	n := 0
	for _, a := range approvals {
		if a.Status == gitlab.ApprovalApproved {
			n++
		}
	}
	return n
}

// Bounds of the mirrored approvals, as the API declares them.
const (
	maxMirroredRules     = 32
	maxMirroredApprovals = 64
	// MaxCommentLength bounds an approval comment kept in status or Events.
	MaxCommentLength = 1024
)

// Mirror copies GitLab's approval state of d into a, and returns the
// approvals and rejections that a did not hold before (to announce).
func Mirror(a *gitlabv1alpha1.ApprovalStatus, d *gitlab.Deployment) []gitlabv1alpha1.Approval {
	seen := map[string]bool{}
	for _, old := range a.Approvals {
		seen[old.User+"/"+old.Status] = true
	}
	a.DeploymentID = d.ID
	a.PendingCount = int32(d.PendingApprovalCount) //nolint:gosec // GitLab's count is at most 25.
	a.Rules = mirrorRules(d.Rules)
	a.Approvals = nil
	var fresh []gitlabv1alpha1.Approval
	for _, given := range AllApprovals(d) {
		if len(a.Approvals) == maxMirroredApprovals {
			break
		}
		t := metav1.NewTime(given.CreatedAt)
		approval := gitlabv1alpha1.Approval{User: given.User, Status: given.Status,
			Comment: Truncate(given.Comment, MaxCommentLength), Time: &t}
		a.Approvals = append(a.Approvals, approval)
		if !seen[given.User+"/"+given.Status] {
			fresh = append(fresh, approval)
		}
	}
	return fresh
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

// ApprovalPolling bounds how often GitLab is asked about a held rollout:
// Min at first, growing with the time waited up to Max, jittered.
type ApprovalPolling struct {
	// Min is the first interval.
	Min time.Duration
	// Max caps the interval.
	Max time.Duration
}

// DefaultApprovalPolling polls after 5s at first and at most every 2m.
var DefaultApprovalPolling = ApprovalPolling{Min: 5 * time.Second, Max: 2 * time.Minute}

// After is the next poll interval for a rollout that has waited so long.
func (p ApprovalPolling) After(waited time.Duration) time.Duration {
	if p.Min <= 0 {
		p = DefaultApprovalPolling
	}
	d := min(max(p.Min, waited/10), max(p.Max, p.Min))
	return wait.Jitter(d, 0.2)
}

// GitLabReason names a GitLab error as a condition reason.
func GitLabReason(err *gitlab.Error) string {
	msg := strings.ToLower(err.Message)
	switch {
	case err.StatusCode == http.StatusTooManyRequests:
		return gitlabv1alpha1.ReasonRateLimited
	case err.Class == gitlab.Transient:
		return gitlabv1alpha1.ReasonGitLabUnavailable
	case err.StatusCode == http.StatusNotFound:
		return gitlabv1alpha1.ReasonProjectNotFound
	case err.StatusCode == http.StatusForbidden:
		return gitlabv1alpha1.ReasonForbidden
	case strings.Contains(msg, "ref:"):
		return gitlabv1alpha1.ReasonRefNotFound
	case strings.Contains(msg, "sha:"):
		return gitlabv1alpha1.ReasonCommitNotFound
	}
	return gitlabv1alpha1.ReasonGitLabRejected
}
