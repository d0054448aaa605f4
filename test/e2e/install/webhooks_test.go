package install

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// pointWebhooksAt makes the API server call the installed webhooks at
// https://127.0.0.1:port, on their paths, instead of through the webhook
// Service, which no pod backs here.
func pointWebhooksAt(t *testing.T, k8s client.Client, port int) {
	t.Helper()
	g := NewWithT(t)
	at := func(c *admissionregistrationv1.WebhookClientConfig) {
		url := fmt.Sprintf("https://127.0.0.1:%d%s", port, *c.Service.Path)
		c.Service, c.URL = nil, &url
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	g.Expect(k8s.Get(t.Context(), client.ObjectKey{Name: mutatingWebhook}, mutating)).To(Succeed())
	for i := range mutating.Webhooks {
		at(&mutating.Webhooks[i].ClientConfig)
	}
	g.Expect(k8s.Update(t.Context(), mutating)).To(Succeed())
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(k8s.Get(t.Context(), client.ObjectKey{Name: validatingWebhook}, validating)).To(Succeed())
	for i := range validating.Webhooks {
		at(&validating.Webhooks[i].ClientConfig)
	}
	g.Expect(k8s.Update(t.Context(), validating)).To(Succeed())
}

// The cert-manager overlay turns the manager's own certificate off, mounts
// the Secret of a Certificate for the webhook Service, and has cert-manager
// inject its CA into both webhook configurations.
func TestCertManagerOverlay(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "config/overlays/cert-manager")
	d := managerDeployment(t, objs)
	g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElements(
		"--webhook-cert-rotation=false", "--webhook-cert-path=/tmp/k8s-webhook-server/serving-certs"))

	cert := find(t, objs, "Certificate", "rollgate-serving-cert")
	g.Expect(cert.GetNamespace()).To(Equal(systemNamespace))
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	g.Expect(dnsNames).To(ContainElement("rollgate-webhook-service.rollgate-system.svc"))
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	g.Expect(d.Spec.Template.Spec.Volumes).To(ContainElement(And(
		HaveField("Name", "webhook-certs"), HaveField("Secret.SecretName", secretName))))
	issuer := find(t, objs, "Issuer", "rollgate-selfsigned-issuer")
	g.Expect(issuer.GetNamespace()).To(Equal(systemNamespace))

	for _, webhook := range []struct{ kind, name string }{
		{"MutatingWebhookConfiguration", mutatingWebhook},
		{"ValidatingWebhookConfiguration", validatingWebhook},
	} {
		g.Expect(find(t, objs, webhook.kind, webhook.name).GetAnnotations()).To(HaveKeyWithValue(
			"cert-manager.io/inject-ca-from", systemNamespace+"/rollgate-serving-cert"))
	}
}

// The installer runs two replicas on different nodes, keeps one through
// voluntary disruptions, and sends only gated Deployments to webhooks that
// fail closed; the failure-policy-ignore overlay changes the failure policy
// only.
func TestInstallerIsHighlyAvailableAndFailsClosed(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "config/default")
	d := managerDeployment(t, objs)
	g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
	g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--leader-elect"))
	g.Expect(d.Spec.Template.Spec.TopologySpreadConstraints).To(ContainElement(And(
		HaveField("TopologyKey", "kubernetes.io/hostname"), HaveField("MaxSkew", BeEquivalentTo(1)))))
	pdb := find(t, objs, "PodDisruptionBudget", managerName)
	g.Expect(pdb.GetNamespace()).To(Equal(systemNamespace))
	minAvailable, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable")
	g.Expect(minAvailable).To(BeEquivalentTo(1))
	selector, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels")
	g.Expect(selector).To(Equal(d.Spec.Selector.MatchLabels))

	policies := func(objs []*unstructured.Unstructured) []string {
		out := make([]string, 0, 2)
		for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
			name := mutatingWebhook
			if kind == "ValidatingWebhookConfiguration" {
				name = validatingWebhook
			}
			webhooks, _, _ := unstructured.NestedSlice(find(t, objs, kind, name).Object, "webhooks")
			g.Expect(webhooks).To(HaveLen(1))
			w := webhooks[0].(map[string]any)
			g.Expect(w["matchConditions"]).To(HaveExactElements(HaveKeyWithValue("name", "gated-or-held")))
			out = append(out, w["failurePolicy"].(string))
		}
		return out
	}
	g.Expect(policies(objs)).To(Equal([]string{"Fail", "Fail"}))
	g.Expect(policies(render(t, "config/overlays/failure-policy-ignore"))).To(Equal([]string{"Ignore", "Ignore"}))
}
