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

package webhookcert

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// apiServer returns the package's shared envtest (testenv.Get). TestMain,
// in the external test package, sets it through UseAPIServer: this package's
// own tests cannot import testenv, which imports this package.
var apiServer func(testing.TB) *rest.Config

// UseAPIServer hands this package's own tests the shared envtest.
func UseAPIServer(get func(testing.TB) *rest.Config) { apiServer = get }

// replica is one manager's rotator and webhook server.
type replica struct {
	*Rotator
	addr    string
	updates *atomic.Int64
}

// newReplica is a replica as a manager starts it: its own certificate
// directory and webhook server, the shared Secret and webhook
// configurations, and a client that counts its successful Secret updates.
func newReplica(t *testing.T, cfg *rest.Config, clk *clocktesting.FakeClock) *replica {
	t.Helper()
	g := NewWithT(t)
	base, err := client.NewWithWatch(cfg, client.Options{Scheme: newScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	updates := &atomic.Int64{}
	c := interceptor.NewClient(base, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			err := c.Update(ctx, obj, opts...)
			if _, ok := obj.(*corev1.Secret); ok && err == nil {
				updates.Add(1)
			}
			return err
		}})
	watch, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	port := l.Addr().(*net.TCPAddr).Port
	g.Expect(l.Close()).To(Succeed())
	r := &replica{Rotator: &Rotator{Client: c, Reader: c, Watch: watch, Secret: secretKey, CertDir: t.TempDir(),
		Hosts: hosts, MutatingWebhooks: []string{"shared-mutating"}, ValidatingWebhooks: []string{"shared-validating"},
		Validity: validity, CheckInterval: time.Hour, Clock: clk},
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), updates: updates}
	return r
}

// start runs the replica's rotator and webhook server until the test ends.
func (r *replica) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	host, port, _ := net.SplitHostPort(r.addr)
	p, _ := strconv.Atoi(port)
	srv := webhook.NewServer(webhook.Options{Host: host, Port: p, CertDir: r.CertDir})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Start(ctx); err != nil {
			t.Errorf("rotator: %v", err)
		}
	})
	wg.Go(func() {
		if err := srv.Start(ctx); err != nil {
			t.Errorf("webhook server: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// ready runs the replica's readiness check.
func (r *replica) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
	if err != nil {
		return err
	}
	return r.Checker(r.addr)(req)
}

// Two replicas started at once on a real API server share one certificate:
// one Secret is created, both serve it, and the webhook configurations
// trust it. When it is due, both try to renew it; exactly one update of the
// Secret wins, both serve the new certificate without a restart, and the
// configurations trust the new CA and the old one. A caBundle blanked by a
// re-apply is set again within seconds.
func TestTwoReplicasShareRenewAndReinjectOneCertificate(t *testing.T) {
	g := NewWithT(t)
	cfg := apiServer(t)
	admin, err := client.New(cfg, client.Options{Scheme: newScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	ctx := t.Context()
	// The namespace outlives the test (envtest runs no namespace
	// controller); the Secret and the configurations do not.
	err = admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretKey.Namespace}})
	g.Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretKey.Namespace, Name: secretKey.Name}})
	})
	mutating, validating := installConfigs(t, admin)

	clk := clocktesting.NewFakeClock(time.Now())
	a, b := newReplica(t, cfg, clk), newReplica(t, cfg, clk)
	var wg sync.WaitGroup
	for _, r := range []*replica{a, b} {
		wg.Go(func() { g.Expect(r.Ensure(ctx)).To(Succeed()) })
	}
	wg.Wait()
	first := getSecret(g, admin)
	g.Expect(served(g, a.Rotator)).To(Equal(first.Data[KeyTLSCert]))
	g.Expect(served(g, b.Rotator)).To(Equal(first.Data[KeyTLSCert]))
	g.Expect(a.ready(ctx)).NotTo(Succeed(), "not ready before the webhook server runs")

	a.start(t)
	b.start(t)
	g.Eventually(func(g Gomega) {
		g.Expect(caBundles(g, admin, mutating)).To(Equal([][]byte{first.Data[KeyCACert]}))
		g.Expect(caBundles(g, admin, validating)).To(Equal([][]byte{first.Data[KeyCACert]}))
		g.Expect(a.ready(ctx)).To(Succeed())
		g.Expect(b.ready(ctx)).To(Succeed())
	}).WithTimeout(10 * time.Second).Should(Succeed())
	g.Expect(a.updates.Load() + b.updates.Load()).To(BeZero())

	// Both replicas find the certificate due at the same moment (the clock
	// moves on by an hour while the test waits, so that a replica busy when
	// it jumped looks again).
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	clk.Step(validity*2/3 + time.Hour)
	var renewed *corev1.Secret
	g.Eventually(func(g Gomega) {
		clk.Step(time.Hour)
		renewed = getSecret(g, admin)
		g.Expect(renewed.Data[KeyTLSCert]).NotTo(Equal(first.Data[KeyTLSCert]))
		g.Expect(served(g, a.Rotator)).To(Equal(renewed.Data[KeyTLSCert]))
		g.Expect(served(g, b.Rotator)).To(Equal(renewed.Data[KeyTLSCert]))
		trust := append(append([]byte{}, renewed.Data[KeyCACert]...), first.Data[KeyCACert]...)
		g.Expect(caBundles(g, admin, mutating)).To(Equal([][]byte{trust}))
		g.Expect(caBundles(g, admin, validating)).To(Equal([][]byte{trust}))
		g.Expect(a.ready(ctx)).To(Succeed(), "the webhook server reloaded the new certificate")
		g.Expect(b.ready(ctx)).To(Succeed(), "the webhook server reloaded the new certificate")
	}).WithTimeout(15 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(a.updates.Load()+b.updates.Load()).To(BeEquivalentTo(1), "one replica renewed, the other adopted it")

	// A GitOps tool applies the configurations again, without caBundle.
	for _, obj := range []client.Object{mutatingConfig("shared-mutating", "hold.test.rollgate.dev"), validatingConfig("shared-validating", "guard.test.rollgate.dev")} {
		blank(obj)
		live := obj.DeepCopyObject().(client.Object)
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), live)).To(Succeed())
		obj.SetResourceVersion(live.GetResourceVersion())
		g.Expect(admin.Update(ctx, obj)).To(Succeed())
	}
	blanked := time.Now()
	g.Eventually(func(g Gomega) {
		g.Expect(caBundles(g, admin, mutating)).To(HaveEach(Not(BeEmpty())))
		g.Expect(caBundles(g, admin, validating)).To(HaveEach(Not(BeEmpty())))
	}).WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	t.Logf("caBundle injected again %v after the re-apply", time.Since(blanked).Round(time.Millisecond))
}

// installConfigs creates a mutating and a validating configuration, each
// with one webhook that matches nothing.
func installConfigs(t *testing.T, c client.Client) (client.Object, client.Object) {
	t.Helper()
	g := NewWithT(t)
	mutating, validating := mutatingConfig("shared-mutating", "hold.test.rollgate.dev"), validatingConfig("shared-validating", "guard.test.rollgate.dev")
	blank(mutating)
	blank(validating)
	g.Expect(c.Create(t.Context(), mutating)).To(Succeed())
	g.Expect(c.Create(t.Context(), validating)).To(Succeed())
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), mutating)
		_ = c.Delete(context.Background(), validating)
	})
	return mutating, validating
}

// blank makes a configuration's webhooks valid, unreachable, matching no
// object, and without caBundle.
func blank(obj client.Object) {
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	nothing := &metav1.LabelSelector{MatchLabels: map[string]string{"rollgate.test/never": "true"}}
	url := "https://127.0.0.1:1/hook"
	cc := admissionregistrationv1.WebhookClientConfig{URL: &url}
	switch cfg := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		cfg.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("MutatingWebhookConfiguration"))
		for i := range cfg.Webhooks {
			cfg.Webhooks[i].ClientConfig, cfg.Webhooks[i].FailurePolicy, cfg.Webhooks[i].SideEffects = cc, &ignore, &none
			cfg.Webhooks[i].AdmissionReviewVersions = []string{"v1"}
			cfg.Webhooks[i].ObjectSelector, cfg.Webhooks[i].NamespaceSelector = nothing, nothing
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		cfg.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingWebhookConfiguration"))
		for i := range cfg.Webhooks {
			cfg.Webhooks[i].ClientConfig, cfg.Webhooks[i].FailurePolicy, cfg.Webhooks[i].SideEffects = cc, &ignore, &none
			cfg.Webhooks[i].AdmissionReviewVersions = []string{"v1"}
			cfg.Webhooks[i].ObjectSelector, cfg.Webhooks[i].NamespaceSelector = nothing, nothing
		}
	}
}
