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
	"fmt"
	"regexp"
	"strings"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Reasons a spec is invalid; each is a condition reason on the object.
const (
	ReasonInvalidSHA         = "InvalidSHA"
	ReasonInvalidRef         = "InvalidRef"
	ReasonInvalidProject     = "InvalidProject"
	ReasonInvalidEnvironment = "InvalidEnvironment"
	ReasonInvalidApproval    = "InvalidApproval"
	ReasonInvalidTag         = "InvalidTag"
	// ReasonInvalidSpec is for an invalid spec of no more precise reason.
	ReasonInvalidSpec = "InvalidSpec"
)

var (
	shaPattern         = regexp.MustCompile(`^[0-9a-f]{40}$`)
	projectIDPattern   = regexp.MustCompile(`^[1-9][0-9]*$`)
	projectPathPattern = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.+-]*(/[A-Za-z0-9_.][A-Za-z0-9_.+-]*)+$`)
	// GitLab's environment name rule (Gitlab::Regex.environment_name_regex).
	environmentPattern = regexp.MustCompile(`^[a-zA-Z0-9 _/$\{\}.-]+$`)
)

// InvalidSpecError says which part of a spec is wrong and how to fix it.
type InvalidSpecError struct {
	// Reason is the condition reason, e.g. InvalidSHA.
	Reason string
	// Message is for a human.
	Message string
}

func (e *InvalidSpecError) Error() string { return e.Message }

// ValidateSpec checks what GitLab would reject before anything is sent to it,
// so that invalid input causes no GitLab write. It names the annotation a
// value comes from.
func ValidateSpec(spec *gitlabv1alpha1.GitLabDeploymentSpec) error {
	switch {
	case spec.Environment == "":
		return invalid(ReasonInvalidEnvironment, "the GitLab environment is empty: set %s", gitlabv1alpha1.AnnotationEnvironment)
	case len(spec.Environment) > 255:
		return invalid(ReasonInvalidEnvironment, "the GitLab environment name is too long (maximum is 255 characters)")
	case !environmentPattern.MatchString(spec.Environment) || strings.HasPrefix(spec.Environment, "/") || strings.HasSuffix(spec.Environment, "/"):
		return invalid(ReasonInvalidEnvironment, "the GitLab environment %q can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, but it cannot start or end with '/'", spec.Environment)
	case spec.Project == "":
		return invalid(ReasonInvalidProject, "the GitLab project is missing: set %s to a project ID or full path such as group/app", gitlabv1alpha1.AnnotationProject)
	case !projectIDPattern.MatchString(spec.Project) && !projectPathPattern.MatchString(spec.Project):
		return invalid(ReasonInvalidProject, "the GitLab project %q is neither a numeric ID nor a full path such as group/app (%s)", spec.Project, gitlabv1alpha1.AnnotationProject)
	case spec.SHA == "":
		return invalid(ReasonInvalidSHA, "the commit SHA is missing: set %s to the full 40-character SHA the pod template deploys", gitlabv1alpha1.AnnotationSHA)
	case !shaPattern.MatchString(spec.SHA):
		return invalid(ReasonInvalidSHA, "the commit SHA %q is not a full 40-character lowercase hexadecimal SHA (%s)", truncate(spec.SHA, 64), gitlabv1alpha1.AnnotationSHA)
	case spec.Ref == "":
		return invalid(ReasonInvalidRef, "the ref is missing: set %s to the branch or tag the commit was deployed from", gitlabv1alpha1.AnnotationRef)
	case strings.ContainsAny(spec.Ref, " ~^:?*[\\") || strings.Contains(spec.Ref, ".."):
		return invalid(ReasonInvalidRef, "the ref %q is not a valid git branch or tag name (%s)", truncate(spec.Ref, 64), gitlabv1alpha1.AnnotationRef)
	}
	if a := spec.Approval; a != nil && a.Environment != "" && !environmentPattern.MatchString(a.Environment) {
		return invalid(ReasonInvalidApproval, "the approval environment %q is not a valid GitLab environment name", a.Environment)
	}
	return nil
}

func invalid(reason, format string, args ...any) error {
	return &InvalidSpecError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
