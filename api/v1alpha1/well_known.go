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

// Annotations a Deployment opts in with.
const (
	// AnnotationEnvironment names the GitLab environment; its presence opts a
	// Deployment in.
	AnnotationEnvironment = "gitlab.rollgate.dev/environment"
	// AnnotationProject is the GitLab project ID or full path.
	AnnotationProject = "gitlab.rollgate.dev/project"
	// AnnotationSHA is the 40-hex commit SHA the pod template deploys.
	AnnotationSHA = "gitlab.rollgate.dev/sha"
	// AnnotationRef is the branch or tag of the commit.
	AnnotationRef = "gitlab.rollgate.dev/ref"
	// AnnotationTag is "true" when ref is a tag.
	AnnotationTag = "gitlab.rollgate.dev/tag"
	// AnnotationApproval turns the approval gate on.
	AnnotationApproval = "gitlab.rollgate.dev/approval"
	// AnnotationCredentials names the credentials Secret in the namespace.
	AnnotationCredentials = "gitlab.rollgate.dev/credentials"
	// AnnotationApprovalBypass releases a held rollout without approval; its
	// value is the reason, recorded in an Event. rollgate removes it once the
	// bypass is recorded.
	AnnotationApprovalBypass = "gitlab.rollgate.dev/approval-bypass"
)

// Annotations rollgate itself sets on a gated Deployment.
const (
	// AnnotationHeldTemplate is set with spec.paused by rollgate: the
	// pod-template-hash of the rollout held for approval.
	AnnotationHeldTemplate = "gitlab.rollgate.dev/held-template"
	// AnnotationApprovalBypassedBy names the user who set the bypass
	// annotation, as the API server authenticated them, with rollgate's
	// signature: "USER sig=v1.TEMPLATE.MAC" (package internal/bypass).
	AnnotationApprovalBypassedBy = "gitlab.rollgate.dev/approval-bypassed-by"
	// AnnotationRestoredTemplate is the pod-template-hash of the template
	// rollgate restored after a rejection: the earlier rollout, not a new one.
	AnnotationRestoredTemplate = "gitlab.rollgate.dev/restored-template"
)

// DefaultCredentialsSecret is the Secret used when no credentials are named.
const DefaultCredentialsSecret = "gitlab"

// Keys of the credentials Secret.
const (
	// SecretKeyURL is GitLab's base URL, e.g. https://gitlab.example.com.
	SecretKeyURL = "url"
	// SecretKeyToken is a token with the api scope.
	SecretKeyToken = "token"
	// SecretKeyCA is an optional PEM CA bundle for GitLab's certificate.
	SecretKeyCA = "ca.crt"
)

// Condition types.
const (
	// ConditionReady summarises: the record is true to the rollout.
	ConditionReady = "Ready"
	// ConditionReconciling: rollgate is acting on the rollout or the record.
	ConditionReconciling = "Reconciling"
	// ConditionStalled: rollgate cannot go on without a change from the user.
	ConditionStalled = "Stalled"
	// ConditionRecordSynced: the GitLab record's status matches the rollout.
	ConditionRecordSynced = "RecordSynced"
	// ConditionApproved: the gated rollout is approved.
	ConditionApproved = "Approved"
	// ConditionEnvironmentSynced: the GitLab environment's metadata says
	// what the environment annotations ask for. It is present only when one
	// of them is set, and never affects Ready.
	ConditionEnvironmentSynced = "EnvironmentSynced"
)
