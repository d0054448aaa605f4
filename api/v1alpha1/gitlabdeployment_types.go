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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// GitLabDeploymentSpec names one rollout of a workload and the GitLab
// deployment record it is reported as.
//
// The values of project, environment, sha and ref are checked by the
// controller rather than by the API server, so that a mistake in a
// Deployment's annotations still shows on a GitLabDeployment (condition
// Stalled, with the reason and the annotation to fix) instead of being lost.
//
// +kubebuilder:validation:XValidation:rule="self.workloadRef == oldSelf.workloadRef",message="workloadRef is immutable: a GitLabDeployment records one rollout of one Deployment"
// +kubebuilder:validation:XValidation:rule="self.project == oldSelf.project && self.environment == oldSelf.environment",message="project and environment are immutable: they identify the GitLab record"
// +kubebuilder:validation:XValidation:rule="self.sha == oldSelf.sha && self.ref == oldSelf.ref && (has(self.tag) && self.tag) == (has(oldSelf.tag) && oldSelf.tag)",message="sha, ref and tag are immutable: a new commit is a new rollout"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.podTemplateHash) || (has(self.podTemplateHash) && self.podTemplateHash == oldSelf.podTemplateHash)",message="podTemplateHash cannot be changed once set"
type GitLabDeploymentSpec struct {
	// workloadRef names the Deployment, in this GitLabDeployment's namespace,
	// whose rollout is recorded.
	// +required
	WorkloadRef WorkloadReference `json:"workloadRef"`

	// project is the GitLab project: a numeric ID ("42") or a full path
	// ("group/subgroup/app").
	// +required
	// +kubebuilder:validation:MaxLength=2048
	Project string `json:"project"`

	// environment is the GitLab environment the rollout deploys to. GitLab
	// creates it on the first deployment if it does not exist.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Environment string `json:"environment"`

	// sha is the full 40-character commit SHA that the rollout deploys.
	// +required
	// +kubebuilder:validation:MaxLength=256
	SHA string `json:"sha"`

	// ref is the branch or tag the commit was deployed from.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Ref string `json:"ref"`

	// tag says whether ref is a tag rather than a branch.
	// +optional
	Tag bool `json:"tag,omitempty"`

	// podTemplateHash identifies the rollout: the pod-template-hash of the
	// ReplicaSet that the Deployment rolls out. When empty, the controller
	// takes the Deployment's current template and sets it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	PodTemplateHash string `json:"podTemplateHash,omitempty"`

	// credentials names the Secret, in this namespace, that holds the GitLab
	// `url`, `token` and optional `ca.crt`. Defaults to "gitlab"; when that
	// Secret does not exist, the operator's default Secret is used if the
	// operator was started with one.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Credentials string `json:"credentials,omitempty"`

	// approval holds the rollout until GitLab's deployment approvals allow
	// it. When unset, the rollout is not gated.
	// +optional
	Approval *ApprovalGate `json:"approval,omitempty"`
}

// WorkloadReference names a workload in the same namespace.
type WorkloadReference struct {
	// apiVersion of the workload; only "apps/v1" is supported.
	// +optional
	// +kubebuilder:default="apps/v1"
	// +kubebuilder:validation:Enum="apps/v1"
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the workload; only "Deployment" is supported.
	// +optional
	// +kubebuilder:default=Deployment
	// +kubebuilder:validation:Enum=Deployment
	Kind string `json:"kind,omitempty"`

	// name of the workload.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ApprovalSource says where the approval state of a gated rollout is read.
// +kubebuilder:validation:Enum=Pipeline;Record
type ApprovalSource string

const (
	// ApprovalSourcePipeline reads the CI job deployment that GitLab itself
	// blocked for the same commit in the approval environment.
	ApprovalSourcePipeline ApprovalSource = "Pipeline"
	// ApprovalSourceRecord reads the approvals given on rollgate's own record.
	ApprovalSourceRecord ApprovalSource = "Record"
)

// ApprovalGate configures how a rollout waits for GitLab's approvals.
type ApprovalGate struct {
	// source of the approval state: "Pipeline" (the default) or "Record".
	// +optional
	// +kubebuilder:default=Pipeline
	Source ApprovalSource `json:"source,omitempty"`

	// environment whose CI job deployment carries the approvals, for the
	// Pipeline source. Defaults to spec.environment.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Environment string `json:"environment,omitempty"`

	// timeout after which a rollout still waiting for approval is rolled
	// back and recorded as canceled. Unset means wait for ever.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// RolloutPhase summarises where a recorded rollout is.
// +kubebuilder:validation:Enum=Pending;AwaitingApproval;Progressing;Succeeded;Failed;Canceled
type RolloutPhase string

const (
	// PhasePending: the rollout has not been reported yet.
	PhasePending RolloutPhase = "Pending"
	// PhaseAwaitingApproval: the rollout is held until GitLab approves it.
	PhaseAwaitingApproval RolloutPhase = "AwaitingApproval"
	// PhaseProgressing: the new template is being rolled out.
	PhaseProgressing RolloutPhase = "Progressing"
	// PhaseSucceeded: the rollout completed.
	PhaseSucceeded RolloutPhase = "Succeeded"
	// PhaseFailed: the rollout exceeded its progress deadline.
	PhaseFailed RolloutPhase = "Failed"
	// PhaseCanceled: the rollout was replaced, deleted, rejected or timed out.
	PhaseCanceled RolloutPhase = "Canceled"
)

// GitLabRecord is the GitLab deployment that records this rollout.
type GitLabRecord struct {
	// intent is the status rollgate is about to send, written before the
	// request so that a crash between the request and the status update is
	// recovered by adopting the record instead of creating a second one.
	// +optional
	Intent string `json:"intent,omitempty"`

	// intentTime is when intent was written.
	// +optional
	IntentTime *metav1.Time `json:"intentTime,omitempty"`

	// id of the GitLab deployment.
	// +optional
	ID int64 `json:"id,omitempty"`

	// iid of the GitLab deployment, as shown in GitLab's UI.
	// +optional
	IID int64 `json:"iid,omitempty"`

	// status GitLab reports for the deployment: running, success, failed or
	// canceled.
	// +optional
	Status string `json:"status,omitempty"`

	// environmentID of the GitLab environment.
	// +optional
	EnvironmentID int64 `json:"environmentID,omitempty"`

	// webURL of the GitLab environment page that lists the deployment.
	// +optional
	WebURL string `json:"webURL,omitempty"`

	// createdAt is when GitLab created the deployment.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// updatedAt is when rollgate last saw GitLab change the deployment.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
}

// RolloutObservation is what rollgate last saw of the Deployment's rollout.
type RolloutObservation struct {
	// replicas wanted by the Deployment.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// updatedReplicas running the new template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`

	// availableReplicas of the Deployment.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`

	// reason of the Deployment's Progressing condition.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message of the Deployment's Progressing condition.
	// +optional
	Message string `json:"message,omitempty"`

	// startedAt is when rollgate first saw the rollout.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// finishedAt is when the rollout completed, failed or was canceled.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// ApprovalState summarises a gated rollout's approval.
// +kubebuilder:validation:Enum=Awaiting;Approved;Rejected;TimedOut;Bypassed
type ApprovalState string

const (
	// ApprovalAwaiting: held until GitLab's approval rules are satisfied.
	ApprovalAwaiting ApprovalState = "Awaiting"
	// ApprovalApproved: approved; the rollout may run.
	ApprovalApproved ApprovalState = "Approved"
	// ApprovalRejected: rejected; the previous template was restored.
	ApprovalRejected ApprovalState = "Rejected"
	// ApprovalTimedOut: not approved in time; the previous template was restored.
	ApprovalTimedOut ApprovalState = "TimedOut"
	// ApprovalBypassed: released by the bypass annotation without approval.
	ApprovalBypassed ApprovalState = "Bypassed"
)

// ApprovalStatus mirrors GitLab's approval state for a gated rollout.
type ApprovalStatus struct {
	// state of the approval.
	// +optional
	State ApprovalState `json:"state,omitempty"`

	// deploymentID of the GitLab deployment that carries the approvals (the
	// CI job deployment for the Pipeline source, rollgate's record for Record).
	// +optional
	DeploymentID int64 `json:"deploymentID,omitempty"`

	// pendingCount is GitLab's pending_approval_count.
	// +optional
	PendingCount int32 `json:"pendingCount,omitempty"`

	// rules are GitLab's approval rules with their counts.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Rules []ApprovalRuleStatus `json:"rules,omitempty"`

	// approvals given so far.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Approvals []Approval `json:"approvals,omitempty"`

	// requestedAt is when the rollout started to wait.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`

	// decidedAt is when the approval was decided.
	// +optional
	DecidedAt *metav1.Time `json:"decidedAt,omitempty"`

	// lastCheckedAt is when GitLab was last asked.
	// +optional
	LastCheckedAt *metav1.Time `json:"lastCheckedAt,omitempty"`

	// bypass is who released the rollout without approval, and why, when
	// the approval was bypassed.
	// +optional
	Bypass *ApprovalBypass `json:"bypass,omitempty"`
}

// ApprovalBypass records a release without approval.
type ApprovalBypass struct {
	// user is who set the bypass annotation, as the API server
	// authenticated them (recorded by rollgate's admission webhook).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	User string `json:"user,omitempty"`

	// reason is the value of the bypass annotation.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ApprovalRuleStatus is one GitLab approval rule and how far it is satisfied.
type ApprovalRuleStatus struct {
	// name of the rule: the user, group or role it names.
	// +optional
	Name string `json:"name,omitempty"`

	// required approvals of the rule.
	// +optional
	Required int32 `json:"required,omitempty"`

	// approved is how many approvals count towards the rule.
	// +optional
	Approved int32 `json:"approved,omitempty"`

	// pending is how many approvals the rule still needs.
	// +optional
	Pending int32 `json:"pending,omitempty"`
}

// Approval is one decision given in GitLab.
type Approval struct {
	// user who decided (GitLab username).
	// +optional
	User string `json:"user,omitempty"`

	// status given: approved or rejected.
	// +optional
	Status string `json:"status,omitempty"`

	// comment left with the decision.
	// +optional
	Comment string `json:"comment,omitempty"`

	// time of the decision.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// GitLabDeploymentStatus is the observed state of a recorded rollout.
type GitLabDeploymentStatus struct {
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling, Stalled, RecordSynced, Approved,
	// EnvironmentSynced.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// phase of the rollout.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`

	// shortSHA is the first 8 characters of spec.sha, for display.
	// +optional
	ShortSHA string `json:"shortSHA,omitempty"`

	// podTemplateHash of the rollout that was resolved from the Deployment.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`

	// record is the GitLab deployment that records this rollout.
	// +optional
	Record GitLabRecord `json:"record,omitempty"`

	// rollout is what was last seen of the Deployment's rollout.
	// +optional
	Rollout RolloutObservation `json:"rollout,omitempty"`

	// approval mirrors GitLab's approval state, for gated rollouts.
	// +optional
	Approval *ApprovalStatus `json:"approval,omitempty"`

	// cluster is the --cluster-name of the rollgate that created (or
	// adopted) the record; empty when it runs without one.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Cluster string `json:"cluster,omitempty"`

	// environment is what rollgate wrote to the GitLab environment's
	// metadata (tier, external URL, agent, namespace, Flux resource path)
	// from the Deployment's annotations. A new rollout starts from the
	// previous rollout's, so that an unchanged set of annotations costs no
	// GitLab request.
	// +optional
	Environment *EnvironmentStatus `json:"environment,omitempty"`

	// shipped lists the merge requests GitLab linked to the record when it
	// succeeded; read once, after success. Set with count 0 when the
	// rollout shipped none.
	// +optional
	Shipped *ShippedStatus `json:"shipped,omitempty"`
}

// EnvironmentStatus is rollgate's part in the GitLab environment's metadata.
type EnvironmentStatus struct {
	// applied is what rollgate last wrote to the environment. A GitLab value
	// equal to it is rollgate's to change; any other value set in GitLab is
	// someone else's and is kept unless the overwrite annotation names it.
	// +optional
	Applied AppliedEnvironment `json:"applied,omitzero"`

	// desired is a fingerprint of the environment annotations, the
	// environment name and the project at the last sync that succeeded.
	// While they stay the same, GitLab is not asked again.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Desired string `json:"desired,omitempty"`

	// conflicts are the values rollgate was asked to set but left alone,
	// because someone else set another value in GitLab.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=1024
	Conflicts []string `json:"conflicts,omitempty"`
}

// AppliedEnvironment is the environment metadata rollgate wrote; empty
// fields were never written.
type AppliedEnvironment struct {
	// tier written: production, staging, testing, development or other.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Tier string `json:"tier,omitempty"`

	// externalURL written.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	ExternalURL string `json:"externalURL,omitempty"`

	// agentID is the ID of the GitLab agent written.
	// +optional
	AgentID int64 `json:"agentID,omitempty"`

	// kubernetesNamespace written.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	KubernetesNamespace string `json:"kubernetesNamespace,omitempty"`

	// fluxResourcePath written.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	FluxResourcePath string `json:"fluxResourcePath,omitempty"`
}

// ShippedStatus is what a successful rollout shipped, as GitLab linked it.
type ShippedStatus struct {
	// count is how many merge requests GitLab linked to the record.
	// +required
	Count int32 `json:"count"`

	// mergeRequests are the first of them (at most 5), newest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	MergeRequests []ShippedMergeRequest `json:"mergeRequests,omitempty"`
}

// ShippedMergeRequest is one merge request a rollout shipped.
type ShippedMergeRequest struct {
	// iid is the merge request's number in its project, shown as !iid.
	// +optional
	IID int64 `json:"iid,omitempty"`

	// title of the merge request, cut to 80 characters.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Title string `json:"title,omitempty"`

	// webURL is the merge request's page.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	WebURL string `json:"webURL,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gld,categories=rollgate
// +kubebuilder:printcolumn:name="Environment",type=string,JSONPath=`.spec.environment`
// +kubebuilder:printcolumn:name="Ref",type=string,JSONPath=`.spec.ref`
// +kubebuilder:printcolumn:name="SHA",type=string,JSONPath=`.status.shortSHA`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="IID",type=integer,JSONPath=`.status.record.iid`
// +kubebuilder:printcolumn:name="GitLab",type=string,JSONPath=`.status.record.status`
// +kubebuilder:printcolumn:name="Approval",type=string,JSONPath=`.status.approval.state`
// +kubebuilder:printcolumn:name="Shipped",type=integer,JSONPath=`.status.shipped.count`,priority=1,description="Merge requests the rollout shipped"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// GitLabDeployment is one rollout of a Deployment, recorded as one GitLab
// deployment whose status follows the rollout.
type GitLabDeployment struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec names the rollout and its GitLab record.
	// +required
	Spec GitLabDeploymentSpec `json:"spec"`

	// status of the rollout and its GitLab record.
	// +optional
	Status GitLabDeploymentStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// GitLabDeploymentList contains a list of GitLabDeployment.
type GitLabDeploymentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []GitLabDeployment `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &GitLabDeployment{}, &GitLabDeploymentList{})
		return nil
	})
}
