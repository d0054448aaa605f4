package gitlabtest

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// applyEnvChange assigns ch to e and runs the model's validations on the
// result, returning its errors by attribute (nothing is kept by the
// caller when there are any).
func (f *Fake) applyEnvChange(e *environment, ch envChange, ag *agent, create bool) map[string][]string {
	old := *e
	set := func(dst *string, v *string) { // nullify_if_blank
		switch {
		case v == nil:
		case strings.TrimSpace(*v) == "":
			*dst = ""
		default:
			*dst = *v
		}
	}
	set(&e.externalURL, ch.externalURL)
	set(&e.kubernetesNamespace, ch.namespace)
	set(&e.fluxResourcePath, ch.fluxPath)
	set(&e.description, ch.description)
	set(&e.autoStopSetting, ch.autoStop)
	if ch.tier != nil {
		e.tier = *ch.tier
	}
	if ch.setAgent {
		e.clusterAgent = ag
	}
	if e.tier == "" { // ensure_environment_tier
		e.tier = guessTier(e.name)
	}
	errs := map[string][]string{}
	add := func(attr string, msgs ...string) {
		if len(msgs) > 0 {
			errs[attr] = append(errs[attr], msgs...)
		}
	}
	if create {
		msgs := validateEnvironmentName(e.name)
		if e.project.environmentNamed(e.name) != nil {
			msgs = append(msgs, "has already been taken")
		}
		add("name", msgs...)
	}
	add("external_url", validateExternalURL(e.externalURL)...)
	if e.description != old.description && utf8.RuneCountInString(e.description) > maxDescription {
		add("description", "is too long (maximum is 10000 characters)")
	}
	if create || e.clusterAgent != old.clusterAgent || e.kubernetesNamespace != old.kubernetesNamespace {
		add("kubernetes_namespace", validateNamespace(e.kubernetesNamespace, e.clusterAgent != nil)...)
	}
	if create || e.kubernetesNamespace != old.kubernetesNamespace || e.fluxResourcePath != old.fluxResourcePath {
		add("flux_resource_path", validateFluxPath(e.fluxResourcePath, e.kubernetesNamespace != "")...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateExternalURL is the length validation and safe_external_url.
func validateExternalURL(u string) []string {
	if u == "" {
		return nil
	}
	var msgs []string
	if utf8.RuneCountInString(u) > maxEnvStringLength {
		msgs = append(msgs, "is too long (maximum is 255 characters)")
	}
	parsed, err := url.Parse(u)
	switch {
	case err != nil:
		msgs = append(msgs, "URI is invalid")
	case slices.Contains(unsafeSchemes, strings.ToLower(parsed.Scheme)):
		msgs = append(msgs, strings.ToLower(parsed.Scheme)+" scheme is not allowed")
	}
	return msgs
}

// validateNamespace is the kubernetes_namespace validation: length 1..63,
// Gitlab::Regex.kubernetes_namespace_regex, and no namespace without an
// agent.
func validateNamespace(ns string, hasAgent bool) []string {
	if ns == "" {
		return nil
	}
	var msgs []string
	if len(ns) > maxNamespaceLength {
		msgs = append(msgs, "is too long (maximum is 63 characters)")
	}
	if !dnsLabel.MatchString(ns) {
		msgs = append(msgs, namespaceFormatMsg)
	}
	if !hasAgent {
		msgs = append(msgs, "cannot be set without a cluster agent")
	}
	return msgs
}

// validateFluxPath is the flux_resource_path validation: at most 255
// characters and no path without a namespace. GitLab does not check the
// path's shape.
func validateFluxPath(path string, hasNamespace bool) []string {
	if path == "" {
		return nil
	}
	var msgs []string
	if utf8.RuneCountInString(path) > maxEnvStringLength {
		msgs = append(msgs, "is too long (maximum is 255 characters)")
	}
	if !hasNamespace {
		msgs = append(msgs, "cannot be set without a kubernetes namespace")
	}
	return msgs
}
