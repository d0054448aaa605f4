package environment

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestCompute(t *testing.T) {
	prod := Observed{Name: "production", Tier: "production"}
	for _, tc := range []struct {
		name       string
		d          Desired
		o          Observed
		last       Applied
		edit       *Edit
		conflicts  []Conflict
		unresolved bool
	}{
		{name: "nothing asked", o: Observed{Name: "nonprod", Tier: "staging", ExternalURL: "https://x"}},
		{name: "already as asked", d: Desired{Tier: new("production"), ExternalURL: new("https://shop")},
			o: Observed{Name: "production", Tier: "production", ExternalURL: "https://shop"}},
		{name: "a guessed tier is replaced", d: Desired{Tier: new("production")}, o: Observed{Name: "nonprod", Tier: "staging"},
			edit: &Edit{Tier: new("production")}},
		{name: "a tier set by hand is kept", d: Desired{Tier: new("production")}, o: Observed{Name: "nonprod", Tier: "testing"},
			conflicts: []Conflict{{Field: FieldTier, GitLab: "testing", Desired: "production"}}},
		{name: "a tier rollgate wrote is rollgate's", d: Desired{Tier: new("staging")}, o: Observed{Name: "eu", Tier: "production"},
			last: Applied{Tier: "production"}, edit: &Edit{Tier: new("staging")}},
		{name: "overwrite the tier", d: Desired{Tier: new("production"), Overwrite: map[Field]bool{FieldTier: true}},
			o: Observed{Name: "nonprod", Tier: "testing"}, edit: &Edit{Tier: new("production")}},
		{name: "an empty URL is filled", d: Desired{ExternalURL: new("https://shop")}, o: prod, edit: &Edit{ExternalURL: new("https://shop")}},
		{name: "a URL set by hand is kept", d: Desired{ExternalURL: new("https://shop")},
			o:         Observed{Name: "production", Tier: "production", ExternalURL: "https://old"},
			conflicts: []Conflict{{Field: FieldExternalURL, GitLab: "https://old", Desired: "https://shop"}}},
		{name: "overwriting the URL leaves the tier conflict", d: Desired{Tier: new("other"), ExternalURL: new("https://shop"),
			Overwrite: map[Field]bool{FieldExternalURL: true}},
			o:         Observed{Name: "production", Tier: "staging", ExternalURL: "https://old"},
			edit:      &Edit{ExternalURL: new("https://shop")},
			conflicts: []Conflict{{Field: FieldTier, GitLab: "staging", Desired: "other"}}},
		{name: "agent by ID, namespace and flux on an unlinked environment",
			d:    Desired{Agent: &AgentRef{ID: 7}, KubernetesNamespace: new("shop"), FluxResourcePath: new(helmPath)},
			o:    prod,
			edit: &Edit{AgentID: new(int64(7)), KubernetesNamespace: new("shop"), FluxResourcePath: new(helmPath)}},
		{name: "agent by name needs its ID", d: Desired{Agent: &AgentRef{Name: "prod"}, KubernetesNamespace: new("shop")},
			o: prod, unresolved: true},
		{name: "agent by name already linked: only the namespace",
			d:    Desired{Agent: &AgentRef{Name: "prod"}, KubernetesNamespace: new("shop")},
			o:    Observed{Name: "production", Tier: "production", AgentID: 7, AgentName: "prod"},
			edit: &Edit{KubernetesNamespace: new("shop")}},
		{name: "another agent set by hand keeps its namespace too",
			d:         Desired{Agent: &AgentRef{ID: 9}, KubernetesNamespace: new("shop")},
			o:         Observed{Name: "production", Tier: "production", AgentID: 7, AgentName: "theirs", KubernetesNamespace: "theirs"},
			conflicts: []Conflict{{Field: FieldAgent, GitLab: "theirs", Desired: "9"}}},
		{name: "the agent rollgate wrote is replaced",
			d:    Desired{Agent: &AgentRef{ID: 9}, KubernetesNamespace: new("shop")},
			o:    Observed{Name: "production", Tier: "production", AgentID: 7, KubernetesNamespace: "shop"},
			last: Applied{AgentID: 7, KubernetesNamespace: "shop"}, edit: &Edit{AgentID: new(int64(9))}},
		{name: "overwrite the agent and namespace",
			d: Desired{Agent: &AgentRef{ID: 9}, KubernetesNamespace: new("shop"),
				Overwrite: map[Field]bool{FieldAgent: true, FieldKubernetesNamespace: true}},
			o:    Observed{Name: "production", Tier: "production", AgentID: 7, KubernetesNamespace: "theirs"},
			edit: &Edit{AgentID: new(int64(9)), KubernetesNamespace: new("shop")}},
		{name: "a flux path set by hand is kept",
			d:         Desired{Agent: &AgentRef{ID: 7}, KubernetesNamespace: new("shop"), FluxResourcePath: new(helmPath)},
			o:         Observed{Name: "production", Tier: "production", AgentID: 7, KubernetesNamespace: "shop", FluxResourcePath: "HelmRelease/x"},
			conflicts: []Conflict{{Field: FieldFluxResourcePath, GitLab: "HelmRelease/x", Desired: helmPath}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			p := Compute(tc.d, tc.o, tc.last)
			g.Expect(p.Edit).To(Equal(tc.edit))
			g.Expect(p.Conflicts).To(Equal(tc.conflicts))
			g.Expect(p.AgentUnresolved).To(Equal(tc.unresolved))
			g.Expect(NeedsAgentLookup(tc.d, tc.o)).To(Equal(tc.unresolved))
		})
	}
}

func TestComputeConverges(t *testing.T) {
	g := NewWithT(t)
	d := Desired{Tier: new("production"), ExternalURL: new("https://shop"), Agent: &AgentRef{ID: 7},
		KubernetesNamespace: new("shop"), FluxResourcePath: new(helmPath)}
	o := Observed{Name: "nonprod", Tier: "staging"}
	p := Compute(d, o, Applied{})
	g.Expect(p.Edit).NotTo(BeNil())
	applied := p.Edit.Applied(Applied{})
	g.Expect(applied).To(Equal(Applied{Tier: "production", ExternalURL: "https://shop", AgentID: 7,
		KubernetesNamespace: "shop", FluxResourcePath: helmPath}))
	// GitLab now has what was written: nothing more to do.
	o = Observed{Name: "nonprod", Tier: "production", ExternalURL: "https://shop", AgentID: 7, AgentName: "prod",
		KubernetesNamespace: "shop", FluxResourcePath: helmPath}
	g.Expect(Compute(d, o, applied)).To(Equal(Plan{}))
	// The annotation changes: rollgate may change its own value.
	d.ExternalURL = new("https://shop.example.com")
	g.Expect(Compute(d, o, applied).Edit).To(Equal(&Edit{ExternalURL: new("https://shop.example.com")}))
	var none *Edit
	g.Expect(none.Applied(applied)).To(Equal(applied))
}

func TestGuessTier(t *testing.T) {
	for name, tier := range map[string]string{
		"production": "production", "prd": "production", "live": "production", "production/eu-1": "production",
		"staging": "staging", "stg": "staging", "pre-prod": "staging", "nonprod": "staging", "demo": "staging",
		"model": "staging", "qa": "testing", "test": "testing", "int-eu": "testing", "acceptance": "testing",
		"eu-int-prod": "testing", "development": "development", "review/fix-login": "development",
		"trunk": "development", "canary": "other", "customer-portal": "other", "Production": "production",
	} {
		if got := GuessTier(name); got != tier {
			t.Errorf("GuessTier(%q) = %q, want %q", name, got, tier)
		}
	}
}
