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

// Annotations that describe a Deployment's GitLab environment. Each is
// optional; an environment field without its annotation is left as GitLab
// has it.
const (
	// AnnotationTier is the environment's tier: production, staging,
	// testing, development or other. GitLab counts DORA metrics only for
	// production, and guesses the tier from the name when none is set.
	AnnotationTier = "gitlab.rollgate.dev/tier"
	// AnnotationExternalURL is the http(s) URL GitLab's "Open" button
	// leads to, at most 255 characters.
	AnnotationExternalURL = "gitlab.rollgate.dev/external-url"
	// AnnotationAgent names the GitLab agent for Kubernetes of the cluster,
	// by name or numeric ID, registered in the Deployment's GitLab project.
	// With it the environment is also linked to the Deployment's namespace,
	// which makes GitLab's environment page show the cluster's live state.
	AnnotationAgent = "gitlab.rollgate.dev/agent"
	// AnnotationFluxResourcePath is the Flux resource GitLab's dashboard
	// follows, e.g.
	// helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop or
	// kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/shop.
	// It needs AnnotationAgent.
	AnnotationFluxResourcePath = "gitlab.rollgate.dev/flux-resource-path"
	// AnnotationEnvironmentOverwrite lets rollgate replace environment
	// values that someone else set in GitLab: "true" for every field
	// above, or a comma-separated list of tier, external-url, agent,
	// kubernetes-namespace and flux-resource-path. Without it such values
	// are kept and reported.
	AnnotationEnvironmentOverwrite = "gitlab.rollgate.dev/environment-overwrite"
)

// ClusterPlaceholder, in the environment annotation (and the approval
// environment), is replaced by the manager's --cluster-name when the
// rollout's GitLabDeployment is made: "production/{cluster}" gives each
// cluster its own environment in GitLab's production folder.
const ClusterPlaceholder = "{cluster}"

// Reasons of the EnvironmentSynced condition for environment annotations
// that cannot be used; the message names the annotation and what is wrong.
const (
	// ReasonInvalidTier: the tier annotation is not one of GitLab's tiers.
	ReasonInvalidTier = "InvalidTier"
	// ReasonInvalidExternalURL: the external URL is not an http(s) URL with
	// a host, has spaces or control characters, or is too long.
	ReasonInvalidExternalURL = "InvalidExternalURL"
	// ReasonInvalidAgent: the agent annotation is neither an agent name nor
	// a positive ID.
	ReasonInvalidAgent = "InvalidAgent"
	// ReasonInvalidNamespace: GitLab would refuse the Deployment's
	// namespace as the environment's Kubernetes namespace.
	ReasonInvalidNamespace = "InvalidNamespace"
	// ReasonInvalidFluxResourcePath: the Flux resource path is malformed,
	// too long, or set without an agent.
	ReasonInvalidFluxResourcePath = "InvalidFluxResourcePath"
	// ReasonInvalidOverwrite: the overwrite annotation names an unknown
	// field.
	ReasonInvalidOverwrite = "InvalidOverwrite"
)

// Reasons of the EnvironmentSynced condition, besides the Invalid*
// reasons above and the GitLab error reasons.
const (
	// ReasonEnvironmentSynced: GitLab has what the annotations ask for.
	ReasonEnvironmentSynced = "Synced"
	// ReasonEnvironmentConflict: values someone else set in GitLab were
	// kept; the message names the field, both values and the overwrite
	// annotation.
	ReasonEnvironmentConflict = "EnvironmentConflict"
	// ReasonAgentNotFound: no GitLab agent of that name or ID is registered
	// in the project, or the token may not read the project's agents.
	ReasonAgentNotFound = "AgentNotFound"
	// ReasonEnvironmentNotFound: GitLab has no environment of the record's
	// name (it was deleted after the record was made).
	ReasonEnvironmentNotFound = "EnvironmentNotFound"
)
