package environment

import (
	"regexp"
	"strconv"
)

// Observed is what GitLab has for the environment.
type Observed struct {
	// Name is the environment's name; GitLab guesses the tier from it.
	Name string
	Tier string
	// ExternalURL, KubernetesNamespace and FluxResourcePath are empty
	// when unset.
	ExternalURL string
	// AgentID is 0 when no agent is linked; AgentName is its name.
	AgentID             int64
	AgentName           string
	KubernetesNamespace string
	FluxResourcePath    string
}

// Applied is what rollgate itself last wrote to the environment; zero
// fields were never written. A GitLab value equal to what rollgate wrote
// is rollgate's to change.
type Applied struct {
	Tier                string
	ExternalURL         string
	AgentID             int64
	KubernetesNamespace string
	FluxResourcePath    string
}

// Edit is a change to send to GitLab; nil fields are not sent.
type Edit struct {
	Tier                *string
	ExternalURL         *string
	AgentID             *int64
	KubernetesNamespace *string
	FluxResourcePath    *string
}

// Applied returns what rollgate will have written once the edit is
// accepted, starting from what it had written before.
func (e *Edit) Applied(before Applied) Applied {
	if e == nil {
		return before
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&before.Tier, e.Tier)
	set(&before.ExternalURL, e.ExternalURL)
	set(&before.KubernetesNamespace, e.KubernetesNamespace)
	set(&before.FluxResourcePath, e.FluxResourcePath)
	if e.AgentID != nil {
		before.AgentID = *e.AgentID
	}
	return before
}

// Conflict is a field rollgate was asked to set but left alone because
// someone else set another value in GitLab and the overwrite annotation
// does not cover it.
type Conflict struct {
	Field Field
	// GitLab is the value GitLab has; Desired the annotation's.
	GitLab, Desired string
}

// Plan is the outcome of comparing desired and observed metadata.
type Plan struct {
	// Edit is the minimal change, nil when nothing needs writing.
	Edit *Edit
	// Conflicts are the fields left alone, in Fields order.
	Conflicts []Conflict
	// AgentUnresolved is true when the agent must be written but the
	// desired AgentRef has no ID: resolve the name (see NeedsAgentLookup)
	// and compute again. The edit then leaves the agent, namespace and
	// Flux resource path out.
	AgentUnresolved bool
}

// NeedsAgentLookup reports whether Compute needs the desired agent's ID:
// an agent is asked for by name and GitLab does not already have an agent
// of that name.
func NeedsAgentLookup(d Desired, o Observed) bool {
	return d.Agent != nil && d.Agent.ID == 0 && !d.Agent.Matches(o.AgentID, o.AgentName)
}

// Compute returns the minimal edit that makes GitLab match d. A field is
// written when it was asked for, differs, and is rollgate's to change:
// GitLab has no value, has what rollgate last wrote (last), has for the
// tier only GitLab's own guess from the name, or d.Overwrite names the
// field. Anything else is a Conflict. When the agent conflicts, the
// namespace and Flux resource path (which belong to the agent's cluster)
// are not written either.
func Compute(d Desired, o Observed, last Applied) Plan {
	var p Plan
	edit := &Edit{}
	changed := false
	str := func(f Field, want *string, have, wrote string, guessed bool, dst **string) {
		if want == nil || *want == have {
			return
		}
		if have == "" || have == wrote || guessed || d.Overwrite[f] {
			v := *want
			*dst, changed = &v, true
			return
		}
		p.Conflicts = append(p.Conflicts, Conflict{Field: f, GitLab: have, Desired: *want})
	}
	str(FieldTier, d.Tier, o.Tier, last.Tier, o.Tier == GuessTier(o.Name), &edit.Tier)
	str(FieldExternalURL, d.ExternalURL, o.ExternalURL, last.ExternalURL, false, &edit.ExternalURL)

	agentOK := true
	if a := d.Agent; a != nil && !a.Matches(o.AgentID, o.AgentName) {
		mine := o.AgentID == 0 || o.AgentID == last.AgentID || d.Overwrite[FieldAgent]
		switch {
		case !mine:
			agentOK = false
			p.Conflicts = append(p.Conflicts, Conflict{Field: FieldAgent, GitLab: agentLabel(o), Desired: a.String()})
		case a.ID == 0:
			agentOK, p.AgentUnresolved = false, true
		default:
			id := a.ID
			edit.AgentID, changed = &id, true
		}
	}
	if agentOK {
		str(FieldKubernetesNamespace, d.KubernetesNamespace, o.KubernetesNamespace, last.KubernetesNamespace, false,
			&edit.KubernetesNamespace)
		str(FieldFluxResourcePath, d.FluxResourcePath, o.FluxResourcePath, last.FluxResourcePath, false,
			&edit.FluxResourcePath)
	}
	if changed {
		p.Edit = edit
	}
	return p
}

func agentLabel(o Observed) string {
	if o.AgentName != "" {
		return o.AgentName
	}
	return strconv.FormatInt(o.AgentID, 10)
}

// tierGuesses is Environment#guess_tier: the first pattern matching the
// name, anywhere and ignoring case, gives the tier.
var tierGuesses = []struct {
	tier string
	re   *regexp.Regexp
}{
	{"development", regexp.MustCompile(`(?i)(dev|review|trunk)`)},
	{"testing", regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`)},
	{"staging", regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`)},
	{"production", regexp.MustCompile(`(?i)(pr(o|)d|live)`)},
}

// GuessTier returns the tier GitLab gives an environment of this name when
// nobody sets one. Its guesses misfire ("nonprod" is staging,
// "customer-portal" other, "eu-int-prod" testing).
func GuessTier(name string) string {
	for _, g := range tierGuesses {
		if g.re.MatchString(name) {
			return g.tier
		}
	}
	return "other"
}
