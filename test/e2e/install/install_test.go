// Package install tests the installer, `make build-installer`'s
// dist/install.yaml: it applies to a fresh cluster, and the manager it
// installs, run with the installer's flags and as the installer's service
// account, records a rollout and gates another one.
package install

import (
	"maps"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// Names the installer gives what it installs.
const (
	systemNamespace   = "rollgate-system"
	managerName       = "rollgate-controller-manager"
	mutatingWebhook   = "rollgate-mutating-webhook-configuration"
	validatingWebhook = "rollgate-validating-webhook-configuration"
	webhookCertSecret = "rollgate-webhook-cert"
	crdName           = "gitlabdeployments.gitlab.rollgate.dev"
	leaseName         = "rollgate.gitlab.rollgate.dev"
)

const (
	// timeout bounds each wait.
	timeout = 30 * time.Second
	// poll is how often a wait looks again.
	poll = 100 * time.Millisecond
	// environment is the GitLab environment rollouts are recorded in.
	environment = "production"
	sha         = "0123456789abcdef0123456789abcdef01234567"
)

// The installer applies cleanly to a fresh cluster, and its RBAC is all the
// manager needs: run with the Deployment's flags as its service account, the
// manager becomes ready, elects itself leader, makes and injects its webhook
// certificate, records a rollout running then success with the credentials
// Secret of the workload's namespace, and holds a gated rollout.
func TestInstaller(t *testing.T) {
	g := NewWithT(t)
	binary := buildManager(t)
	objs := render(t, "config/default")
	c := localcluster.StartT(t, localcluster.Options{})
	k8s, err := client.New(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(apply(t.Context(), c.Config, objs)).To(Succeed())
	expectInstalled(t, k8s)
	d := managerDeployment(t, objs)
	g.Expect(d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("256Mi"))

	// No container runs here: the manager runs on this machine, and the API
	// server calls its webhooks there rather than through the Service.
	m := newHostManager(t, binary(), c.KubeconfigPath, d)
	pointWebhooksAt(t, k8s, m.WebhookPort)
	m.start(t)
	m.waitReady(t)
	g.Eventually(func(g Gomega) {
		lease := &coordinationv1.Lease{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: systemNamespace, Name: leaseName}, lease)).To(Succeed())
		g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	expectWebhookCertificate(t, k8s)

	gitLab, err := harness.StartGitLab()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gitLab.Close)
	g.Expect(gitLab.AddProject("shop/web")).To(Succeed())
	ns := workloadNamespace(t, k8s, gitLab.URL)

	web := neverReady(newDeployment(ns, "web", "shop/web"))
	g.Expect(k8s.Create(t.Context(), web)).To(Succeed())
	waitRecord(t, gitLab, "shop/web", gitlab.StatusRunning)
	makePodsReady(t, k8s, ns)
	waitRecord(t, gitLab, "shop/web", gitlab.StatusSuccess)

	gated := newDeployment(ns, "gated", "shop/web")
	gated.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
	g.Expect(k8s.Create(t.Context(), gated)).To(Succeed())
	g.Expect(gated.Spec.Paused).To(BeTrue(), "the mutating webhook holds the new template")
	g.Expect(gated.Annotations).To(HaveKey(gitlabv1alpha1.AnnotationHeldTemplate))
}

// expectInstalled checks what the installer made: the CRD served, the
// namespace, the manager's Deployment and service account, its Services and
// both webhook configurations.
func expectInstalled(t *testing.T, k8s client.Client) {
	t.Helper()
	g := NewWithT(t)
	ctx := t.Context()
	g.Eventually(func(g Gomega) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd)).To(Succeed())
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		g.Expect(conditions).To(ContainElement(And(
			HaveKeyWithValue("type", "Established"), HaveKeyWithValue("status", "True"))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	inSystem := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: systemNamespace, Name: name} }
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: systemNamespace}, &corev1.Namespace{})).To(Succeed())
	g.Expect(k8s.Get(ctx, inSystem(managerName), &corev1.ServiceAccount{})).To(Succeed())
	g.Expect(k8s.Get(ctx, inSystem(managerName), &appsv1.Deployment{})).To(Succeed())
	g.Expect(k8s.Get(ctx, inSystem("rollgate-webhook-service"), &corev1.Service{})).To(Succeed())
	g.Expect(k8s.Get(ctx, inSystem("rollgate-controller-manager-metrics-service"), &corev1.Service{})).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: mutatingWebhook}, &admissionregistrationv1.MutatingWebhookConfiguration{})).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: validatingWebhook}, &admissionregistrationv1.ValidatingWebhookConfiguration{})).To(Succeed())
}

// expectWebhookCertificate waits until the manager kept its certificate in
// its Secret and injected the CA into both webhook configurations.
func expectWebhookCertificate(t *testing.T, k8s client.Client) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		secret := &corev1.Secret{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: systemNamespace, Name: webhookCertSecret}, secret)).To(Succeed())
		g.Expect(secret.Data).To(HaveKey(corev1.TLSCertKey))
		mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Name: mutatingWebhook}, mutating)).To(Succeed())
		g.Expect(mutating.Webhooks).To(HaveEach(HaveField("ClientConfig.CABundle", Not(BeEmpty()))))
		validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Name: validatingWebhook}, validating)).To(Succeed())
		g.Expect(validating.Webhooks).To(HaveEach(HaveField("ClientConfig.CABundle", Not(BeEmpty()))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// workloadNamespace creates a namespace holding the credentials Secret
// "gitlab" for the fake GitLab at url.
func workloadNamespace(t *testing.T, k8s client.Client, url string) string {
	t.Helper()
	g := NewWithT(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	g.Expect(k8s.Create(t.Context(), ns)).To(Succeed())
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "gitlab"},
		StringData: map[string]string{"url": url, "token": harness.GitLabToken},
	}
	g.Expect(k8s.Create(t.Context(), secret)).To(Succeed())
	return ns.Name
}

// newDeployment returns a Deployment of two pods recording sha of main to
// project's environment.
func newDeployment(ns, name, project string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: environment,
			gitlabv1alpha1.AnnotationProject:     project,
			gitlabv1alpha1.AnnotationSHA:         sha,
			gitlabv1alpha1.AnnotationRef:         "main",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1"}}},
			},
		},
	}
}

// neverReady keeps the Deployment's pods unready until makePodsReady, so
// that the rollout is seen running first.
func neverReady(d *appsv1.Deployment) *appsv1.Deployment {
	d.Spec.Template.Labels[localcluster.NeverReadyLabel] = "true"
	return d
}

// waitRecord waits until project has one deployment record, of sha on main
// with status.
func waitRecord(t *testing.T, gitLab *harness.GitLab, project, status string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		records, err := gitLab.Deployments(project, environment)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(records).To(HaveExactElements(And(
			HaveField("SHA", sha), HaveField("Ref", "main"), HaveField("Status", status))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// makePodsReady marks the pods in ns ready, as a kubelet would once their
// readiness probes pass.
func makePodsReady(t *testing.T, k8s client.Client, ns string) {
	t.Helper()
	g := NewWithT(t)
	var pods corev1.PodList
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.List(t.Context(), &pods, client.InNamespace(ns))).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(2))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	for i := range pods.Items {
		pod := &pods.Items[i]
		patch := client.MergeFrom(pod.DeepCopy())
		for j := range pod.Status.Conditions {
			if c := &pod.Status.Conditions[j]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionTrue, "", "", metav1.Now()
			}
		}
		for j := range pod.Status.ContainerStatuses {
			pod.Status.ContainerStatuses[j].Ready = true
		}
		g.Expect(k8s.Status().Patch(t.Context(), pod, patch)).To(Succeed())
	}
}
