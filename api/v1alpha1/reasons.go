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

package v1alpha1

// Names rollgate puts on the objects it manages.
const (
	// FinalizerRecord keeps a GitLabDeployment until its GitLab record is no
	// longer running: a rollout deleted mid-way is recorded as canceled.
	FinalizerRecord = "gitlab.rollgate.dev/record"
	// LabelWorkload carries the name of the recorded Deployment (cut to 63
	// bytes), for selectors.
	LabelWorkload = "gitlab.rollgate.dev/deployment"
	// LabelSettled marks a GitLabDeployment of the history that can no
	// longer change: superseded, its record finished, nothing left to read.
	// rollgate leaves such rollouts out of its cache and stops watching
	// them; their record finalizer is removed with the label, as there is
	// nothing left to cancel.
	LabelSettled = "gitlab.rollgate.dev/settled"
	// LabelRecordID carries the GitLab deployment ID of a settled
	// GitLabDeployment's record, so that a record is known to be taken
	// without caching the history (adoption after a lost POST answer).
	LabelRecordID = "gitlab.rollgate.dev/record-id"
	// AnnotationRevision orders the rollouts of one Deployment: the workload
	// controller numbers the GitLabDeployments it creates 1, 2, 3, ...
	AnnotationRevision = "gitlab.rollgate.dev/revision"
	// AnnotationInvalid is set by the workload controller on a
	// GitLabDeployment made from Deployment annotations that could not be
	// parsed (the approval or tag annotation), as "<Reason>: <message>". The
	// spec then holds what the mistake defaults to (the default gate, no
	// tag); the GitLabDeployment controller stalls the rollout with that
	// reason instead of recording it, and keeps a gated rollout held.
	AnnotationInvalid = "gitlab.rollgate.dev/invalid-annotation"
)

// Reasons of the RecordSynced, Ready, Reconciling and Stalled conditions.
const (
	ReasonRecordSynced      = "RecordSynced"
	ReasonProgressing       = "Progressing"
	ReasonSucceeded         = "Succeeded"
	ReasonFailed            = "Failed"
	ReasonCanceled          = "Canceled"
	ReasonGitLabUnavailable = "GitLabUnavailable"
	ReasonRateLimited       = "RateLimited"
	ReasonProjectNotFound   = "ProjectNotFound"
	ReasonRefNotFound       = "RefNotFound"
	ReasonCommitNotFound    = "CommitNotFound"
	ReasonForbidden         = "Forbidden"
	ReasonGitLabRejected    = "GitLabRejected"
	ReasonAwaitingRecord    = "AwaitingRecord"
)

// Reasons of a spec or annotation that is invalid.
const (
	ReasonInvalidSHA         = "InvalidSHA"
	ReasonInvalidRef         = "InvalidRef"
	ReasonInvalidProject     = "InvalidProject"
	ReasonInvalidEnvironment = "InvalidEnvironment"
	ReasonInvalidApproval    = "InvalidApproval"
	ReasonInvalidTag         = "InvalidTag"
	// ReasonInvalidCredentials: the credentials annotation is not the name
	// of a Secret in the rollout's own namespace.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonInvalidSpec is for an invalid spec of no more precise reason.
	ReasonInvalidSpec = "InvalidSpec"
)

// Reasons of credentials that cannot be used.
const (
	ReasonCredentialsNotFound = "CredentialsNotFound"
	ReasonCredentialsInvalid  = "CredentialsInvalid"
)

// Reasons of the Approved condition.
const (
	ReasonAwaitingApproval     = "AwaitingApproval"
	ReasonWaitingForPipeline   = "WaitingForPipeline"
	ReasonApproved             = "Approved"
	ReasonPreviouslyApproved   = "PreviouslyApproved"
	ReasonBypassed             = "Bypassed"
	ReasonRejected             = "Rejected"
	ReasonTimedOut             = "TimedOut"
	ReasonPipelineJobFailed    = "PipelineJobFailed"
	ReasonRejectedTemplateHeld = "RejectedTemplateHeld"
	ReasonHeldLate             = "HeldLate"
	// ReasonApprovalRulesNotFound: with the Record source, GitLab reports
	// neither approval rules nor approvals for the record; the rollout stays
	// held (a pending count of 0 is never read as approval).
	ReasonApprovalRulesNotFound = "ApprovalRulesNotFound"
)
