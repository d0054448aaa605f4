// Package environment decides what rollgate writes to a GitLab
// environment's metadata: it reads the desired tier, external URL, agent,
// Kubernetes namespace and Flux resource path from a workload's
// annotations, validates them, and computes the smallest edit that brings
// GitLab in line without replacing values someone else set there. It also
// formats the "Shipped !12 Fix login, …" Event of a successful rollout.
// It is pure: no Kubernetes client and no GitLab SDK.
package environment

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// Field names one environment attribute rollgate manages. The names are
// those AnnotationEnvironmentOverwrite lists.
type Field string

// The managed fields, in the order they are validated and reported.
const (
	FieldTier                Field = "tier"
	FieldExternalURL         Field = "external-url"
	FieldAgent               Field = "agent"
	FieldKubernetesNamespace Field = "kubernetes-namespace"
	FieldFluxResourcePath    Field = "flux-resource-path"
)

// Fields lists every managed field.
var Fields = []Field{FieldTier, FieldExternalURL, FieldAgent, FieldKubernetesNamespace, FieldFluxResourcePath}

// Tiers are GitLab's environment tiers.
var Tiers = []string{"production", "staging", "testing", "development", "other"}

// maxURLLength is GitLab's limit on external_url and flux_resource_path.
const maxURLLength = 255

// ValidationError is an annotation value rollgate cannot use.
type ValidationError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Annotation is the annotation's name.
	Annotation string
	// Message says what is wrong, naming the annotation.
	Message string
}

// Error returns the message.
func (e *ValidationError) Error() string { return e.Message }

func invalid(reason, annotation, format string) *ValidationError {
	return &ValidationError{Reason: reason, Annotation: annotation, Message: "annotation " + annotation + " " + format}
}

// AgentRef names a GitLab agent by ID or by name; exactly one is set.
type AgentRef struct {
	ID   int64
	Name string
}

// String returns the ID or the name.
func (r AgentRef) String() string {
	if r.ID != 0 {
		return strconv.FormatInt(r.ID, 10)
	}
	return r.Name
}

// Matches reports whether the agent with this ID and name is the one
// referred to.
func (r AgentRef) Matches(id int64, name string) bool {
	if r.ID != 0 {
		return id == r.ID
	}
	return name != "" && name == r.Name
}

// Desired is the metadata a workload's annotations ask for. A nil field
// was not asked for and is never written.
type Desired struct {
	Tier                *string
	ExternalURL         *string
	Agent               *AgentRef
	KubernetesNamespace *string
	FluxResourcePath    *string
	// Overwrite holds the fields whose values set by someone else in
	// GitLab rollgate may replace.
	Overwrite map[Field]bool
}

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	fluxPath     = regexp.MustCompile(`^(helm\.toolkit\.fluxcd\.io/(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)/namespaces/([^/]+)/helmreleases/([^/]+)` +
		`|kustomize\.toolkit\.fluxcd\.io/(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)/namespaces/([^/]+)/kustomizations/([^/]+))$`)
)

// FromAnnotations reads the desired metadata of a workload in namespace.
// The namespace is asked for together with the agent: GitLab links a
// namespace only to an environment that has an agent. The error, if any,
// is a *ValidationError for the first annotation (in Fields order, then
// the overwrite annotation) that cannot be used.
func FromAnnotations(annotations map[string]string, namespace string) (Desired, error) {
	var d Desired
	if v, ok := annotations[gitlabv1alpha1.AnnotationTier]; ok {
		if err := ValidateTier(v); err != nil {
			return Desired{}, err
		}
		d.Tier = &v
	}
	if v, ok := annotations[gitlabv1alpha1.AnnotationExternalURL]; ok {
		if err := ValidateExternalURL(v); err != nil {
			return Desired{}, err
		}
		d.ExternalURL = &v
	}
	if v, ok := annotations[gitlabv1alpha1.AnnotationAgent]; ok {
		ref, err := ParseAgentRef(v)
		if err != nil {
			return Desired{}, err
		}
		if err := ValidateNamespace(namespace); err != nil {
			return Desired{}, err
		}
		d.Agent, d.KubernetesNamespace = &ref, &namespace
	}
	if v, ok := annotations[gitlabv1alpha1.AnnotationFluxResourcePath]; ok {
		if err := ValidateFluxResourcePath(v); err != nil {
			return Desired{}, err
		}
		if d.Agent == nil {
			return Desired{}, invalid(gitlabv1alpha1.ReasonInvalidFluxResourcePath, gitlabv1alpha1.AnnotationFluxResourcePath,
				"needs "+gitlabv1alpha1.AnnotationAgent+": GitLab links a Flux resource only to an environment with an agent and a namespace")
		}
		d.FluxResourcePath = &v
	}
	if v, ok := annotations[gitlabv1alpha1.AnnotationEnvironmentOverwrite]; ok {
		ow, err := ParseOverwrite(v)
		if err != nil {
			return Desired{}, err
		}
		d.Overwrite = ow
	}
	return d, nil
}

// ValidateTier checks a tier annotation value.
func ValidateTier(v string) error {
	if !slices.Contains(Tiers, v) {
		return invalid(gitlabv1alpha1.ReasonInvalidTier, gitlabv1alpha1.AnnotationTier,
			"is "+strconv.Quote(v)+"; use one of "+strings.Join(Tiers, ", "))
	}
	return nil
}

// ValidateExternalURL checks an external URL annotation value: an
// absolute http or https URL with a host, at most 255 characters.
func ValidateExternalURL(v string) error {
	const a = gitlabv1alpha1.AnnotationExternalURL
	if len(v) > maxURLLength {
		return invalid(gitlabv1alpha1.ReasonInvalidExternalURL, a, "is "+strconv.Itoa(len(v))+" characters long; GitLab allows 255")
	}
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return invalid(gitlabv1alpha1.ReasonInvalidExternalURL, a, "contains spaces or control characters")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(gitlabv1alpha1.ReasonInvalidExternalURL, a, "is "+strconv.Quote(v)+"; use an http:// or https:// URL with a host")
	}
	return nil
}

// ParseAgentRef reads an agent annotation value: a positive numeric ID, or
// an agent name (lowercase letters, digits and '-', at most 63 characters).
func ParseAgentRef(v string) (AgentRef, error) {
	if id, err := strconv.ParseInt(v, 10, 64); err == nil {
		if id <= 0 {
			return AgentRef{}, invalid(gitlabv1alpha1.ReasonInvalidAgent, gitlabv1alpha1.AnnotationAgent, "is "+v+"; an agent ID is positive")
		}
		return AgentRef{ID: id}, nil
	}
	if len(v) > 63 || !dnsLabel.MatchString(v) {
		return AgentRef{}, invalid(gitlabv1alpha1.ReasonInvalidAgent, gitlabv1alpha1.AnnotationAgent, "is "+strconv.Quote(v)+
			"; use the agent's numeric ID or its name (lowercase letters, digits and '-', at most 63 characters)")
	}
	return AgentRef{Name: v}, nil
}

// ValidateNamespace checks the workload's namespace as GitLab will: a DNS
// label of at most 63 characters.
func ValidateNamespace(ns string) error {
	if len(ns) > 63 || !dnsLabel.MatchString(ns) {
		return invalid(gitlabv1alpha1.ReasonInvalidNamespace, gitlabv1alpha1.AnnotationAgent,
			"links the environment to namespace "+strconv.Quote(ns)+", which is not a DNS label GitLab accepts")
	}
	return nil
}

// ValidateFluxResourcePath checks a Flux resource path annotation value:
// helm.toolkit.fluxcd.io/<version>/namespaces/<ns>/helmreleases/<name> or
// kustomize.toolkit.fluxcd.io/<version>/namespaces/<ns>/kustomizations/<name>.
func ValidateFluxResourcePath(v string) error {
	const a = gitlabv1alpha1.AnnotationFluxResourcePath
	m := fluxPath.FindStringSubmatch(v)
	if m == nil {
		return invalid(gitlabv1alpha1.ReasonInvalidFluxResourcePath, a, "is "+strconv.Quote(v)+
			"; use helm.toolkit.fluxcd.io/v2/namespaces/<namespace>/helmreleases/<name> or "+
			"kustomize.toolkit.fluxcd.io/v1/namespaces/<namespace>/kustomizations/<name>")
	}
	ns, name := m[3]+m[6], m[4]+m[7]
	switch {
	case len(ns) > 63 || !dnsLabel.MatchString(ns):
		return invalid(gitlabv1alpha1.ReasonInvalidFluxResourcePath, a, "names namespace "+strconv.Quote(ns)+", which is not a DNS label")
	case len(name) > 253 || !dnsSubdomain.MatchString(name):
		return invalid(gitlabv1alpha1.ReasonInvalidFluxResourcePath, a, "names resource "+strconv.Quote(name)+", which is not a valid Kubernetes name")
	case len(v) > maxURLLength:
		return invalid(gitlabv1alpha1.ReasonInvalidFluxResourcePath, a, "is "+strconv.Itoa(len(v))+" characters long; GitLab allows 255")
	}
	return nil
}

// ParseOverwrite reads the overwrite annotation: "true", "false", or a
// comma-separated list of field names.
func ParseOverwrite(v string) (map[Field]bool, error) {
	out := map[Field]bool{}
	switch strings.TrimSpace(v) {
	case "true":
		for _, f := range Fields {
			out[f] = true
		}
		return out, nil
	case "false", "":
		return out, nil
	}
	for part := range strings.SplitSeq(v, ",") {
		f := Field(strings.TrimSpace(part))
		if !slices.Contains(Fields, f) {
			names := make([]string, 0, len(Fields))
			for _, f := range Fields {
				names = append(names, string(f))
			}
			return nil, invalid(gitlabv1alpha1.ReasonInvalidOverwrite, gitlabv1alpha1.AnnotationEnvironmentOverwrite,
				"names "+strconv.Quote(string(f))+"; use true, false or a comma-separated list of "+strings.Join(names, ", "))
		}
		out[f] = true
	}
	return out, nil
}
