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
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// OptedIn reports whether a Deployment asks to be recorded.
func OptedIn(annotations map[string]string) bool {
	_, ok := annotations[gitlabv1alpha1.AnnotationEnvironment]
	return ok
}

// SpecFromAnnotations builds the spec of a rollout's GitLabDeployment from a
// Deployment's annotations. Values are copied as they are (trimmed); their
// validity is judged by ValidateSpec so that a mistake shows on the
// GitLabDeployment. Only the approval and tag annotations are parsed here.
// It fails closed: an approval annotation that is present but cannot be
// parsed gives the default gate, a tag that cannot be parsed gives false,
// and the error (an *InvalidSpecError, reason InvalidApproval or
// InvalidTag) says what to fix.
func SpecFromAnnotations(workload string, annotations map[string]string) (gitlabv1alpha1.GitLabDeploymentSpec, error) {
	get := func(key string) string { return strings.TrimSpace(annotations[key]) }
	spec := gitlabv1alpha1.GitLabDeploymentSpec{
		WorkloadRef: gitlabv1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: kindDeployment, Name: workload},
		Environment: get(gitlabv1alpha1.AnnotationEnvironment),
		Project:     get(gitlabv1alpha1.AnnotationProject),
		SHA:         get(gitlabv1alpha1.AnnotationSHA),
		Ref:         get(gitlabv1alpha1.AnnotationRef),
		Credentials: get(gitlabv1alpha1.AnnotationCredentials),
	}
	reason, errs := fitFields(&spec)
	if v := get(gitlabv1alpha1.AnnotationApproval); v != "" {
		gate, err := ParseApproval(v)
		if err != nil {
			reason = cmp.Or(reason, gitlabv1alpha1.ReasonInvalidApproval)
			errs = append(errs, err.Error())
			gate = DefaultGate()
		}
		spec.Approval = gate
	}
	if v := get(gitlabv1alpha1.AnnotationTag); v != "" {
		tag, err := strconv.ParseBool(v)
		if err != nil {
			reason = cmp.Or(reason, gitlabv1alpha1.ReasonInvalidTag)
			errs = append(errs, fmt.Sprintf("%s must be \"true\" or \"false\", not %q", gitlabv1alpha1.AnnotationTag, Truncate(v, 64)))
		}
		spec.Tag = tag
	}
	if len(errs) > 0 {
		return spec, &InvalidSpecError{Reason: reason, Message: strings.Join(errs, "; ")}
	}
	return spec, nil
}

// ExpandCluster replaces the {cluster} placeholder in the environment and
// the approval environment with the cluster's name. A placeholder with no
// cluster name is an *InvalidSpecError (InvalidEnvironment, or
// InvalidApproval for the approval environment): the rollout is not
// recorded until the manager runs with --cluster-name.
func ExpandCluster(spec *gitlabv1alpha1.GitLabDeploymentSpec, cluster string) error {
	fields := []struct {
		value      *string
		annotation string
		reason     string
	}{{&spec.Environment, gitlabv1alpha1.AnnotationEnvironment, gitlabv1alpha1.ReasonInvalidEnvironment}}
	if spec.Approval != nil {
		fields = append(fields, struct {
			value      *string
			annotation string
			reason     string
		}{&spec.Approval.Environment, gitlabv1alpha1.AnnotationApproval, gitlabv1alpha1.ReasonInvalidApproval})
	}
	for _, f := range fields {
		if !strings.Contains(*f.value, gitlabv1alpha1.ClusterPlaceholder) {
			continue
		}
		if cluster == "" {
			return invalid(f.reason, "%s names the environment %q with %s, but rollgate runs without --cluster-name",
				f.annotation, Truncate(*f.value, 64), gitlabv1alpha1.ClusterPlaceholder)
		}
		*f.value = strings.ReplaceAll(*f.value, gitlabv1alpha1.ClusterPlaceholder, cluster)
	}
	return nil
}

// fieldLimits are the longest values the GitLabDeployment API accepts.
var fieldLimits = []struct {
	annotation, reason string
	limit              int
	field              func(*gitlabv1alpha1.GitLabDeploymentSpec) *string
}{
	{gitlabv1alpha1.AnnotationEnvironment, gitlabv1alpha1.ReasonInvalidEnvironment, 1024, func(s *gitlabv1alpha1.GitLabDeploymentSpec) *string { return &s.Environment }},
	{gitlabv1alpha1.AnnotationProject, gitlabv1alpha1.ReasonInvalidProject, 2048, func(s *gitlabv1alpha1.GitLabDeploymentSpec) *string { return &s.Project }},
	{gitlabv1alpha1.AnnotationSHA, gitlabv1alpha1.ReasonInvalidSHA, 256, func(s *gitlabv1alpha1.GitLabDeploymentSpec) *string { return &s.SHA }},
	{gitlabv1alpha1.AnnotationRef, gitlabv1alpha1.ReasonInvalidRef, 1024, func(s *gitlabv1alpha1.GitLabDeploymentSpec) *string { return &s.Ref }},
	{gitlabv1alpha1.AnnotationCredentials, gitlabv1alpha1.ReasonInvalidCredentials, 253, func(s *gitlabv1alpha1.GitLabDeploymentSpec) *string { return &s.Credentials }},
}

// fitFields cuts values too long for the GitLabDeployment API to its limit,
// so that the rollout's GitLabDeployment can still be created and say what
// is wrong, and returns the first reason and every message.
func fitFields(spec *gitlabv1alpha1.GitLabDeploymentSpec) (string, []string) {
	var reason string
	var errs []string
	for _, f := range fieldLimits {
		v := f.field(spec)
		if len(*v) <= f.limit {
			continue
		}
		reason = cmp.Or(reason, f.reason)
		errs = append(errs, fmt.Sprintf("%s is too long: %d characters, at most %d", f.annotation, len(*v), f.limit))
		*v = strings.ToValidUTF8((*v)[:f.limit], "")
	}
	return reason, errs
}

// maxApprovalEnvironment is GitLab's longest environment name.
const maxApprovalEnvironment = 255

// DefaultGate is the gate of `gitlab.rollgate.dev/approval: "true"`.
func DefaultGate() *gitlabv1alpha1.ApprovalGate {
	return &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourcePipeline}
}

// ParseApproval parses the approval annotation: "false"/"" for no gate,
// "true" for the default gate (Pipeline source), or comma-separated
// settings such as "source=Record,timeout=2h" or
// "source=Pipeline,environment=production-approval".
func ParseApproval(value string) (*gitlabv1alpha1.ApprovalGate, error) {
	value = strings.TrimSpace(value)
	switch strings.ToLower(value) {
	case "", "false":
		return nil, nil
	case "true":
		return DefaultGate(), nil
	}
	gate := DefaultGate()
	seen := map[string]bool{}
	for part := range strings.SplitSeq(value, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || val == "" {
			return nil, fmt.Errorf("%s: %q is not key=value (want e.g. \"source=Record,timeout=2h\")", gitlabv1alpha1.AnnotationApproval, Truncate(part, 64))
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: %s is set twice", gitlabv1alpha1.AnnotationApproval, Truncate(key, 64))
		}
		seen[key] = true
		switch key {
		case "source":
			src, err := parseSource(val)
			if err != nil {
				return nil, err
			}
			gate.Source = src
		case "environment":
			if len(val) > maxApprovalEnvironment {
				return nil, fmt.Errorf("%s: environment is too long: %d characters, at most %d",
					gitlabv1alpha1.AnnotationApproval, len(val), maxApprovalEnvironment)
			}
			gate.Environment = val
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: timeout %q is not a positive duration such as 30m or 2h", gitlabv1alpha1.AnnotationApproval, val)
			}
			gate.Timeout = &metav1.Duration{Duration: d}
		default:
			return nil, fmt.Errorf("%s: unknown setting %q (known: source, environment, timeout)", gitlabv1alpha1.AnnotationApproval, key)
		}
	}
	return gate, nil
}

func parseSource(val string) (gitlabv1alpha1.ApprovalSource, error) {
	switch strings.ToLower(val) {
	case "pipeline":
		return gitlabv1alpha1.ApprovalSourcePipeline, nil
	case "record":
		return gitlabv1alpha1.ApprovalSourceRecord, nil
	}
	return "", fmt.Errorf("%s: source %q is not Pipeline or Record", gitlabv1alpha1.AnnotationApproval, val)
}
