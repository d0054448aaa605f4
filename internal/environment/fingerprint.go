package environment

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Annotations are the annotations that describe the environment's
// metadata, in the order Fingerprint reads them.
var Annotations = []string{
	gitlabv1alpha1.AnnotationTier,
	gitlabv1alpha1.AnnotationExternalURL,
	gitlabv1alpha1.AnnotationAgent,
	gitlabv1alpha1.AnnotationFluxResourcePath,
	gitlabv1alpha1.AnnotationEnvironmentOverwrite,
}

// Requested reports whether any environment metadata annotation is set.
func Requested(annotations map[string]string) bool {
	for _, a := range Annotations {
		if _, ok := annotations[a]; ok {
			return true
		}
	}
	return false
}

// Fingerprint identifies what a workload asks of its environment: the
// environment annotations, the workload's namespace (linked with the
// agent), the GitLab project and the environment's name. While it stays
// the same, what GitLab was last brought to still holds.
func Fingerprint(annotations map[string]string, namespace, project, environment string) string {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			// Length-prefixed, so that no two inputs read the same.
			h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
		}
	}
	write(project, environment, namespace)
	for _, a := range Annotations {
		v, ok := annotations[a]
		write(a, strconv.FormatBool(ok), v)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// AnnotationOf is the annotation that asks for a field.
func AnnotationOf(f Field) string {
	switch f {
	case FieldTier:
		return gitlabv1alpha1.AnnotationTier
	case FieldExternalURL:
		return gitlabv1alpha1.AnnotationExternalURL
	case FieldFluxResourcePath:
		return gitlabv1alpha1.AnnotationFluxResourcePath
	}
	// The namespace is linked with the agent.
	return gitlabv1alpha1.AnnotationAgent
}

// String says which value was kept, which was asked for, and how to have
// rollgate replace it.
func (c Conflict) String() string {
	return string(c.Field) + ": GitLab has " + strconv.Quote(c.GitLab) + ", set by someone else; " +
		AnnotationOf(c.Field) + " asks for " + strconv.Quote(c.Desired) +
		" (add " + string(c.Field) + " to " + gitlabv1alpha1.AnnotationEnvironmentOverwrite + " to replace it)"
}

// ConflictMessage joins the conflicts of a plan into one message.
func ConflictMessage(conflicts []string) string {
	return "Kept environment values set in GitLab by someone else: " + strings.Join(conflicts, "; ")
}
