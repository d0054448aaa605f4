package chart

import (
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// typed converts an object into its Go type, refusing unknown fields, so that
// a misspelt field in a template fails.
func typed[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			out := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, out, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return out
		}
	}
	t.Fatalf("the chart rendered no %s %s", kind, name)
	return nil
}

func has(objs []*unstructured.Unstructured, kind, name string) bool {
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return true
		}
	}
	return false
}

// Every object of the default chart is a valid object of its kind (no
// unknown field).
func TestChartObjectsAreValid(t *testing.T) {
	objs := helmTemplate(t, "--set", "networkPolicy.enabled=true")
	for _, obj := range objs {
		var out any
		switch obj.GetKind() {
		case "Deployment":
			out = &appsv1.Deployment{}
		case "Service":
			out = &corev1.Service{}
		case "ServiceAccount":
			out = &corev1.ServiceAccount{}
		case "ClusterRole", "Role":
			out = &rbacv1.ClusterRole{}
		case "ClusterRoleBinding", "RoleBinding":
			out = &rbacv1.ClusterRoleBinding{}
		case "MutatingWebhookConfiguration":
			out = &admissionregistrationv1.MutatingWebhookConfiguration{}
		case "ValidatingWebhookConfiguration":
			out = &admissionregistrationv1.ValidatingWebhookConfiguration{}
		case "CustomResourceDefinition":
			continue // controller-gen's own, compared with the installer's
		case "NetworkPolicy":
			out = &networkingv1.NetworkPolicy{}
		case "PodDisruptionBudget":
			out = &policyv1.PodDisruptionBudget{}
		default:
			t.Errorf("the test does not know the kind %s", obj.GetKind())
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, out, true); err != nil {
			t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// helm lint --strict passes for the defaults and with every feature on.
func TestChartLint(t *testing.T) {
	dir := root(t)
	chart := filepath.Join(dir, "charts", "rollgate")
	run(t, dir, tool(t, "HELM", "helm"), "lint", "--strict", chart)
	run(t, dir, tool(t, "HELM", "helm"), append([]string{"lint", "--strict", chart}, allOn...)...)
}

// allOn turns every optional part of the chart on.
var allOn = []string{
	"--set", "networkPolicy.enabled=true",
	"--set", "metrics.serviceMonitor.enabled=true",
	"--set", "prometheusRule.enabled=true",
	"--set", "grafana.dashboard.enabled=true",
	"--set", "certificates.provider=cert-manager",
	"--set", "defaultCredentials.name=gitlab",
	"--set", "defaultCredentials.create=true",
	"--set", "defaultCredentials.url=https://gitlab.example.com",
	"--set", "defaultCredentials.token=glpat-x",
}

// The values turn on what they say, and the manager gets the flags they
// stand for. (The defaults are the installer's: TestChartMatchesInstaller.)
func TestChartValues(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t,
		"--set", "replicas=3",
		"--set", "strategy.rollingUpdate.maxSurge=0,strategy.rollingUpdate.maxUnavailable=1",
		"--set", "readinessProbe.periodSeconds=10",
		"--set", "topologySpreadConstraints[0].maxSkew=2,topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
		"--set", "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
		"--set", "image.repository=registry.example/rollgate,image.digest=sha256:0123",
		"--set", "defaultCredentials.name=gitlab,defaultCredentials.namespace=ops",
		"--set", "gitlab.qps=5,gitlab.burst=7,gitlab.timeout=10s",
		"--set", "webhooks.failurePolicy=Ignore",
		"--set", "webhooks.matchConditions[0].name=gated",
		"--set", `webhooks.matchConditions[0].expression=has(object.metadata.annotations)`,
		"--set", "podDisruptionBudget.maxUnavailable=1",
		"--set", "extraArgs[0]=--history-limit=20",
	)
	d := typed[appsv1.Deployment](t, objs, "Deployment", "rollgate-controller-manager")
	g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(3))
	g.Expect(d.Spec.Strategy.RollingUpdate).To(Equal(&appsv1.RollingUpdateDeployment{
		MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromInt32(1))}))
	g.Expect(d.Spec.Template.Spec.TopologySpreadConstraints).To(Equal([]corev1.TopologySpreadConstraint{{
		MaxSkew: 2, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}),
		"a list value replaces the default")
	c := d.Spec.Template.Spec.Containers[0]
	g.Expect(c.ReadinessProbe.PeriodSeconds).To(BeEquivalentTo(10))
	g.Expect(c.ReadinessProbe.InitialDelaySeconds).To(BeEquivalentTo(2), "the other fields keep their defaults")
	g.Expect(c.Image).To(Equal("registry.example/rollgate@sha256:0123"))
	g.Expect(c.Args).To(ContainElements(
		"--default-credentials=ops/gitlab", "--gitlab-qps=5", "--gitlab-burst=7", "--gitlab-timeout=10s",
		"--history-limit=20"))
	mutating := typed[admissionregistrationv1.MutatingWebhookConfiguration](t, objs,
		"MutatingWebhookConfiguration", "rollgate-mutating-webhook-configuration")
	validating := typed[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs,
		"ValidatingWebhookConfiguration", "rollgate-validating-webhook-configuration")
	gated := []admissionregistrationv1.MatchCondition{{Name: "gated", Expression: "has(object.metadata.annotations)"}}
	g.Expect(mutating.Webhooks).To(HaveExactElements(And(
		HaveField("FailurePolicy", HaveValue(Equal(admissionregistrationv1.Ignore))),
		HaveField("MatchConditions", Equal(gated)))))
	g.Expect(validating.Webhooks).To(HaveExactElements(And(
		HaveField("FailurePolicy", HaveValue(Equal(admissionregistrationv1.Ignore))),
		HaveField("MatchConditions", Equal(gated)))))
	pdb := typed[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "rollgate-controller-manager")
	g.Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))
	g.Expect(pdb.Spec.MinAvailable).To(BeNil(), "maxUnavailable wins over minAvailable")
	g.Expect(pdb.Spec.Selector.MatchLabels).To(Equal(d.Spec.Selector.MatchLabels))
	g.Expect(has(objs, "Secret", "gitlab")).To(BeFalse(), "the credentials Secret is only made with create")
}

// One replica without the high-availability parts: no PodDisruptionBudget
// (it would block node drains), no spread, no strategy of the chart's, and
// webhooks without matchConditions get every Deployment write.
func TestChartSingleReplica(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "replicas=1,podDisruptionBudget.enabled=false",
		"--set", "topologySpreadConstraints=null,strategy=null,webhooks.matchConditions=null")
	d := typed[appsv1.Deployment](t, objs, "Deployment", "rollgate-controller-manager")
	g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(1))
	g.Expect(d.Spec.Strategy).To(BeZero())
	g.Expect(d.Spec.Template.Spec.TopologySpreadConstraints).To(BeEmpty())
	g.Expect(has(objs, "PodDisruptionBudget", "rollgate-controller-manager")).To(BeFalse())
	mutating := typed[admissionregistrationv1.MutatingWebhookConfiguration](t, objs,
		"MutatingWebhookConfiguration", "rollgate-mutating-webhook-configuration")
	g.Expect(mutating.Webhooks).To(HaveExactElements(And(
		HaveField("MatchConditions", BeEmpty()),
		HaveField("FailurePolicy", HaveValue(Equal(admissionregistrationv1.Fail))))))
}

// A failurePolicy the API server would refuse fails the render.
func TestChartFailurePolicyIsChecked(t *testing.T) {
	g := NewWithT(t)
	_, err := runErr(t, root(t), tool(t, "HELM", "helm"), "template", "rollgate", filepath.Join(root(t), "charts", "rollgate"),
		"--set", "webhooks.failurePolicy=fail")
	g.Expect(err).To(MatchError(ContainSubstring(`webhooks.failurePolicy must be Fail or Ignore, not "fail"`)))
}

// Without webhooks the manager is told so, and neither the webhook
// configurations, their Service nor the certificate volume are installed.
func TestChartWithoutWebhooks(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "webhooks.enabled=false")
	d := typed[appsv1.Deployment](t, objs, "Deployment", "rollgate-controller-manager")
	c := d.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(ContainElement("--approval-webhooks=false"))
	g.Expect(c.Args).NotTo(ContainElement(HavePrefix("--webhook-cert-path")))
	g.Expect(d.Spec.Template.Spec.Volumes).To(BeEmpty())
	g.Expect(c.Ports).NotTo(ContainElement(HaveField("Name", "webhook-server")))
	g.Expect(has(objs, "MutatingWebhookConfiguration", "rollgate-mutating-webhook-configuration")).To(BeFalse())
	g.Expect(has(objs, "ValidatingWebhookConfiguration", "rollgate-validating-webhook-configuration")).To(BeFalse())
	g.Expect(has(objs, "Service", "rollgate-webhook-service")).To(BeFalse())
}

// The default credentials Secret is made from values when asked, in the
// release's namespace, and the manager points at it.
func TestChartDefaultCredentials(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "defaultCredentials.name=gitlab,defaultCredentials.create=true",
		"--set", "defaultCredentials.url=https://gitlab.example.com,defaultCredentials.token=glpat-x",
		"--set-string", "defaultCredentials.caCert=-----BEGIN CERTIFICATE-----")
	s := typed[corev1.Secret](t, objs, "Secret", "gitlab")
	g.Expect(s.Namespace).To(Equal(namespace))
	g.Expect(s.StringData).To(Equal(map[string]string{
		"url": "https://gitlab.example.com", "token": "glpat-x", "ca.crt": "-----BEGIN CERTIFICATE-----\n"}))
	d := typed[appsv1.Deployment](t, objs, "Deployment", "rollgate-controller-manager")
	g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--default-credentials=" + namespace + "/gitlab"))

	// create without a token fails the render.
	_, err := runErr(t, root(t), tool(t, "HELM", "helm"), "template", "rollgate", filepath.Join(root(t), "charts", "rollgate"),
		"--set", "defaultCredentials.name=gitlab,defaultCredentials.create=true,defaultCredentials.url=https://x")
	g.Expect(err).To(MatchError(ContainSubstring("defaultCredentials.token is required")))
}

// The NetworkPolicy lets in the webhook and metrics ports only, and lets out
// DNS, the API server and GitLab only.
func TestChartNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "networkPolicy.enabled=true",
		"--set", "networkPolicy.egress.gitlab.to[0].ipBlock.cidr=203.0.113.10/32")
	np := typed[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "rollgate-controller-manager")
	g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
	var ingressPorts []int32
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			ingressPorts = append(ingressPorts, p.Port.IntVal)
		}
	}
	g.Expect(ingressPorts).To(ConsistOf(int32(9443), int32(8443)))
	g.Expect(np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"metrics": "enabled"}))
	g.Expect(np.Spec.Egress).To(ContainElement(And(
		HaveField("To", ConsistOf(HaveField("IPBlock.CIDR", "203.0.113.10/32"))),
		HaveField("Ports", ConsistOf(HaveField("Port.IntVal", int32(443)))))))
	g.Expect(np.Spec.Egress).To(ContainElement(HaveField("Ports", ContainElement(And(
		HaveField("Port.IntVal", int32(53)), HaveField("Protocol", HaveValue(Equal(corev1.ProtocolUDP))))))))
	g.Expect(np.Spec.Egress).To(HaveLen(3))
}
