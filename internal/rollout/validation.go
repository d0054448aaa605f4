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
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Shapes GitLab accepts, checked before anything is sent to it.
var (
	shaPattern       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	projectIDPattern = regexp.MustCompile(`^[1-9][0-9]*$`)
	// GitLab's path rule for groups and projects: letters, digits, '_', '-'
	// and '.', starting with a letter, digit or '_' (so never "." or "..").
	projectPathPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$`)
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
		return invalid(gitlabv1alpha1.ReasonInvalidEnvironment, "the GitLab environment is empty: set %s", gitlabv1alpha1.AnnotationEnvironment)
	case len(spec.Environment) > 255:
		return invalid(gitlabv1alpha1.ReasonInvalidEnvironment, "the GitLab environment name is too long (maximum is 255 characters; %s)", gitlabv1alpha1.AnnotationEnvironment)
	case !environmentPattern.MatchString(spec.Environment) || strings.HasPrefix(spec.Environment, "/") || strings.HasSuffix(spec.Environment, "/"):
		return invalid(gitlabv1alpha1.ReasonInvalidEnvironment, "the GitLab environment %q can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, but it cannot start or end with '/' (%s)", Truncate(spec.Environment, 64), gitlabv1alpha1.AnnotationEnvironment)
	case spec.Project == "":
		return invalid(gitlabv1alpha1.ReasonInvalidProject, "the GitLab project is missing: set %s to a project ID or full path such as group/app", gitlabv1alpha1.AnnotationProject)
	case len(spec.Project) > 255 || !projectIDPattern.MatchString(spec.Project) && !validProjectPath(spec.Project):
		return invalid(gitlabv1alpha1.ReasonInvalidProject, "the GitLab project %q is neither a numeric ID nor a full path such as group/app (%s)", Truncate(spec.Project, 64), gitlabv1alpha1.AnnotationProject)
	case spec.SHA == "":
		return invalid(gitlabv1alpha1.ReasonInvalidSHA, "the commit SHA is missing: set %s to the full 40-character SHA the pod template deploys", gitlabv1alpha1.AnnotationSHA)
	case !shaPattern.MatchString(spec.SHA):
		return invalid(gitlabv1alpha1.ReasonInvalidSHA, "the commit SHA %q is not a full 40-character lowercase hexadecimal SHA (%s)", Truncate(spec.SHA, 64), gitlabv1alpha1.AnnotationSHA)
	case spec.Ref == "":
		return invalid(gitlabv1alpha1.ReasonInvalidRef, "the ref is missing: set %s to the branch or tag the commit was deployed from", gitlabv1alpha1.AnnotationRef)
	case !validRef(spec.Ref):
		return invalid(gitlabv1alpha1.ReasonInvalidRef, "the ref %q is not a valid git branch or tag name (%s)", Truncate(spec.Ref, 64), gitlabv1alpha1.AnnotationRef)
	}
	if c := spec.Credentials; c != "" && len(validation.IsDNS1123Subdomain(c)) > 0 {
		return invalid(gitlabv1alpha1.ReasonInvalidCredentials, "the credentials Secret %q is not the name of a Secret in this namespace "+
			"(a rollout can only use a Secret of its own namespace; %s)", Truncate(c, 64), gitlabv1alpha1.AnnotationCredentials)
	}
	if a := spec.Approval; a != nil && a.Environment != "" && !environmentPattern.MatchString(a.Environment) {
		return invalid(gitlabv1alpha1.ReasonInvalidApproval, "the approval environment %q is not a valid GitLab environment name (%s)", Truncate(a.Environment, 64), gitlabv1alpha1.AnnotationApproval)
	}
	return nil
}

// validProjectPath applies GitLab's path rules to each part of a full path:
// no part ends in ".git" or ".atom" or with a '.'.
func validProjectPath(path string) bool {
	if !projectPathPattern.MatchString(path) {
		return false
	}
	for part := range strings.SplitSeq(path, "/") {
		if strings.HasSuffix(part, ".git") || strings.HasSuffix(part, ".atom") || strings.HasSuffix(part, ".") {
			return false
		}
	}
	return true
}

// validRef applies git's rules for branch and tag names
// (git check-ref-format): no control characters, spaces, ~ ^ : ? * [ \,
// no "..", "@{" or "//", not "@", and no part starting with '.' or ending
// with ".lock"; nor a leading or trailing '/' or a trailing '.'.
func validRef(ref string) bool {
	if ref == "@" || strings.ContainsAny(ref, " ~^:?*[\\\x7f") || strings.Contains(ref, "..") || strings.Contains(ref, "@{") ||
		strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") {
		return false
	}
	for _, r := range ref {
		if r < 0x20 {
			return false
		}
	}
	for part := range strings.SplitSeq(ref, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}

func invalid(reason, format string, args ...any) error {
	return &InvalidSpecError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// MaxEventNote is the longest Event note the API server keeps.
const MaxEventNote = 1024

// EventNote fits an Event note within MaxEventNote.
func EventNote(note string) string { return Truncate(note, MaxEventNote-len("…")) }

// Truncate cuts s to n bytes, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// IsProjectID reports whether a project is named by its numeric ID.
func IsProjectID(project string) bool { return projectIDPattern.MatchString(project) }

// MarkInvalid records on a new GitLabDeployment why its Deployment's
// annotations could not be parsed (gitlabv1alpha1.AnnotationInvalid).
func MarkInvalid(gld *gitlabv1alpha1.GitLabDeployment, err error) {
	invalidErr, ok := errors.AsType[*InvalidSpecError](err)
	if !ok {
		invalidErr = &InvalidSpecError{Reason: gitlabv1alpha1.ReasonInvalidSpec, Message: err.Error()}
	}
	if gld.Annotations == nil {
		gld.Annotations = map[string]string{}
	}
	gld.Annotations[gitlabv1alpha1.AnnotationInvalid] = invalidErr.Reason + ": " + invalidErr.Message
}

// InvalidAnnotation returns the error the workload controller recorded on a
// GitLabDeployment, or nil.
func InvalidAnnotation(gld *gitlabv1alpha1.GitLabDeployment) error {
	v, ok := gld.Annotations[gitlabv1alpha1.AnnotationInvalid]
	if !ok {
		return nil
	}
	reason, message, found := strings.Cut(v, ": ")
	if !found || reason == "" || strings.ContainsAny(reason, " \t") {
		return &InvalidSpecError{Reason: gitlabv1alpha1.ReasonInvalidSpec, Message: v}
	}
	return &InvalidSpecError{Reason: reason, Message: message}
}

// Validate checks what the workload controller could not parse, then the
// spec itself.
func Validate(gld *gitlabv1alpha1.GitLabDeployment) error {
	if err := InvalidAnnotation(gld); err != nil {
		return err
	}
	return ValidateSpec(&gld.Spec)
}

// ReasonOf is the condition reason of an invalid spec.
func ReasonOf(err error) string {
	if e, ok := errors.AsType[*InvalidSpecError](err); ok {
		return e.Reason
	}
	return gitlabv1alpha1.ReasonInvalidSpec
}
