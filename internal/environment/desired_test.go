package environment

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

const helmPath = "helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/shop"

func TestFromAnnotations(t *testing.T) {
	const (
		tier  = gitlabv1alpha1.AnnotationTier
		ext   = gitlabv1alpha1.AnnotationExternalURL
		agent = gitlabv1alpha1.AnnotationAgent
		flux  = gitlabv1alpha1.AnnotationFluxResourcePath
		ow    = gitlabv1alpha1.AnnotationEnvironmentOverwrite
	)
	for _, tc := range []struct {
		name      string
		ann       map[string]string
		namespace string
		want      Desired
		reason    string
		message   string
	}{
		{name: "nothing asked", ann: map[string]string{"other": "x"}, want: Desired{}},
		{name: "all fields", namespace: "shop",
			ann: map[string]string{tier: "production", ext: "https://shop.example.com", agent: "prod-agent", flux: helmPath, ow: "tier, agent"},
			want: Desired{Tier: new("production"), ExternalURL: new("https://shop.example.com"), Agent: &AgentRef{Name: "prod-agent"},
				KubernetesNamespace: new("shop"), FluxResourcePath: new(helmPath),
				Overwrite: map[Field]bool{FieldTier: true, FieldAgent: true}}},
		{name: "agent by ID", namespace: "shop", ann: map[string]string{agent: "42"},
			want: Desired{Agent: &AgentRef{ID: 42}, KubernetesNamespace: new("shop")}},
		{name: "kustomization", namespace: "apps",
			ann:  map[string]string{agent: "a", flux: "kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps.eu-1"},
			want: Desired{Agent: &AgentRef{Name: "a"}, KubernetesNamespace: new("apps"), FluxResourcePath: new("kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps.eu-1")}},
		{name: "overwrite everything", ann: map[string]string{ow: "true"},
			want: Desired{Overwrite: map[Field]bool{FieldTier: true, FieldExternalURL: true, FieldAgent: true, FieldKubernetesNamespace: true, FieldFluxResourcePath: true}}},
		{name: "overwrite nothing", ann: map[string]string{ow: "false"}, want: Desired{Overwrite: map[Field]bool{}}},

		{name: "unknown tier", ann: map[string]string{tier: "prod"}, reason: gitlabv1alpha1.ReasonInvalidTier,
			message: `annotation gitlab.rollgate.dev/tier is "prod"; use one of production, staging, testing, development, other`},
		{name: "tier is case-sensitive", ann: map[string]string{tier: "Production"}, reason: gitlabv1alpha1.ReasonInvalidTier},
		{name: "empty tier", ann: map[string]string{tier: ""}, reason: gitlabv1alpha1.ReasonInvalidTier},
		{name: "url without scheme", ann: map[string]string{ext: "shop.example.com"}, reason: gitlabv1alpha1.ReasonInvalidExternalURL,
			message: `annotation gitlab.rollgate.dev/external-url is "shop.example.com"; use an http:// or https:// URL with a host`},
		{name: "javascript url", ann: map[string]string{ext: "javascript:alert(1)"}, reason: gitlabv1alpha1.ReasonInvalidExternalURL},
		{name: "ftp url", ann: map[string]string{ext: "ftp://files.example.com"}, reason: gitlabv1alpha1.ReasonInvalidExternalURL},
		{name: "url without host", ann: map[string]string{ext: "https:///path"}, reason: gitlabv1alpha1.ReasonInvalidExternalURL},
		{name: "url with a space", ann: map[string]string{ext: "https://a.example.com/x y"}, reason: gitlabv1alpha1.ReasonInvalidExternalURL},
		{name: "url too long", ann: map[string]string{ext: "https://a.example.com/" + strings.Repeat("a", 234)}, reason: gitlabv1alpha1.ReasonInvalidExternalURL,
			message: "annotation gitlab.rollgate.dev/external-url is 256 characters long; GitLab allows 255"},
		{name: "agent name with capitals", namespace: "shop", ann: map[string]string{agent: "Prod"}, reason: gitlabv1alpha1.ReasonInvalidAgent},
		{name: "agent ID zero", namespace: "shop", ann: map[string]string{agent: "0"}, reason: gitlabv1alpha1.ReasonInvalidAgent},
		{name: "agent name too long", namespace: "shop", ann: map[string]string{agent: strings.Repeat("a", 64)}, reason: gitlabv1alpha1.ReasonInvalidAgent},
		{name: "namespace GitLab refuses", namespace: strings.Repeat("n", 64), ann: map[string]string{agent: "a"}, reason: gitlabv1alpha1.ReasonInvalidNamespace},
		{name: "flux without agent", ann: map[string]string{flux: helmPath}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath,
			message: "annotation gitlab.rollgate.dev/flux-resource-path needs gitlab.rollgate.dev/agent: GitLab links a Flux resource only to an environment with an agent and a namespace"},
		{name: "flux short form", namespace: "shop", ann: map[string]string{agent: "a", flux: "HelmRelease/shop"}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "flux wrong kind", namespace: "shop", ann: map[string]string{agent: "a", flux: "helm.toolkit.fluxcd.io/v2/namespaces/shop/kustomizations/shop"}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "flux bad version", namespace: "shop", ann: map[string]string{agent: "a", flux: "helm.toolkit.fluxcd.io/2/namespaces/shop/helmreleases/shop"}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "flux bad namespace", namespace: "shop", ann: map[string]string{agent: "a", flux: "helm.toolkit.fluxcd.io/v2beta1/namespaces/Shop/helmreleases/shop"}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "flux bad name", namespace: "shop", ann: map[string]string{agent: "a", flux: "helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/-shop"}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "flux too long", namespace: "shop", ann: map[string]string{agent: "a", flux: "helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/" + strings.Repeat("a", 210)}, reason: gitlabv1alpha1.ReasonInvalidFluxResourcePath},
		{name: "overwrite unknown field", ann: map[string]string{ow: "tier,url"}, reason: gitlabv1alpha1.ReasonInvalidOverwrite,
			message: `annotation gitlab.rollgate.dev/environment-overwrite names "url"; use true, false or a comma-separated list of tier, external-url, agent, kubernetes-namespace, flux-resource-path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := FromAnnotations(tc.ann, tc.namespace)
			if tc.reason == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(tc.want))
				return
			}
			var ve *ValidationError
			g.Expect(errors.As(err, &ve)).To(BeTrue(), "%v", err)
			g.Expect(ve.Reason).To(Equal(tc.reason))
			g.Expect(ve.Message).To(ContainSubstring("annotation " + ve.Annotation + " "))
			if tc.message != "" {
				g.Expect(ve.Error()).To(Equal(tc.message))
			}
			g.Expect(got).To(Equal(Desired{}))
		})
	}
}

func TestAgentRef(t *testing.T) {
	g := NewWithT(t)
	g.Expect(AgentRef{ID: 7}.Matches(7, "x")).To(BeTrue())
	g.Expect(AgentRef{ID: 7}.Matches(8, "x")).To(BeFalse())
	g.Expect(AgentRef{Name: "x"}.Matches(8, "x")).To(BeTrue())
	g.Expect(AgentRef{Name: "x"}.Matches(0, "")).To(BeFalse())
	g.Expect(AgentRef{ID: 7}.String()).To(Equal("7"))
	g.Expect(AgentRef{Name: "x"}.String()).To(Equal("x"))
}

func TestFingerprintChangesWithWhatIsAskedFor(t *testing.T) {
	base := map[string]string{gitlabv1alpha1.AnnotationTier: "production", "other/annotation": "x"}
	fp := Fingerprint(base, "shop", "acme/shop", "production")
	if got := Fingerprint(map[string]string{gitlabv1alpha1.AnnotationTier: "production"}, "shop", "acme/shop", "production"); got != fp {
		t.Errorf("an annotation outside the environment set changed the fingerprint")
	}
	for name, other := range map[string]string{
		"tier":        Fingerprint(map[string]string{gitlabv1alpha1.AnnotationTier: "staging"}, "shop", "acme/shop", "production"),
		"namespace":   Fingerprint(base, "shop2", "acme/shop", "production"),
		"project":     Fingerprint(base, "shop", "acme/shop2", "production"),
		"environment": Fingerprint(base, "shop", "acme/shop", "production/eu-1"),
		"empty url":   Fingerprint(map[string]string{gitlabv1alpha1.AnnotationTier: "production", gitlabv1alpha1.AnnotationExternalURL: ""}, "shop", "acme/shop", "production"),
		"shifted":     Fingerprint(base, "", "acme/shopshop", "production"),
	} {
		if other == fp {
			t.Errorf("a different %s gives the same fingerprint", name)
		}
	}
	if !Requested(base) || Requested(map[string]string{"other/annotation": "x"}) {
		t.Errorf("Requested misreads the annotations")
	}
}

func TestConflictSaysHowToOverwrite(t *testing.T) {
	msg := Conflict{Field: FieldExternalURL, GitLab: "https://old.example.com", Desired: "https://shop.example.com"}.String()
	for _, want := range []string{"external-url", `"https://old.example.com"`, `"https://shop.example.com"`,
		gitlabv1alpha1.AnnotationExternalURL, gitlabv1alpha1.AnnotationEnvironmentOverwrite} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not mention %q", msg, want)
		}
	}
}
