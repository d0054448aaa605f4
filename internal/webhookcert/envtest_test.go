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

package webhookcert_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/testenv"
	"github.com/rollgate/rollgate/internal/webhookcert"
)

// TestMain runs the package's tests with one shared envtest, which the
// package's own tests reach through UseAPIServer; under -short only the
// unit tests of the package run.
func TestMain(m *testing.M) {
	webhookcert.UseAPIServer(func(t testing.TB) *rest.Config { t.Helper(); return testenv.Get(t).Config })
	testenv.Main(m, false, nil)
}

// The self-managed certificate on a real API server: the Secret it keeps
// passes the API server's validation of TLS Secrets, and the caBundle it
// injects is accepted.
func TestWebhookCertificateOnARealAPIServer(t *testing.T) {
	g := NewWithT(t)
	env := testenv.Get(t)
	k8sClient := env.Client
	ns := env.NewNamespace(t)
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	// A webhook that matches no object, so that it cannot disturb other tests.
	nothing := &metav1.LabelSelector{MatchLabels: map[string]string{"rollgate.test/never": "true"}}
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ns + "-validating"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "guard.certtest.rollgate.dev",
			ClientConfig:  admissionregistrationv1.WebhookClientConfig{URL: new("https://127.0.0.1:1/validate")},
			FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			ObjectSelector: nothing, NamespaceSelector: nothing}}}
	g.Expect(k8sClient.Create(context.Background(), cfg)).To(Succeed())
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cfg) })

	r := &webhookcert.Rotator{Client: k8sClient, Reader: k8sClient, Secret: types.NamespacedName{Namespace: ns, Name: "webhook-cert"},
		CertDir: t.TempDir(), Hosts: []string{"rollgate-webhook-service." + ns + ".svc"}, ValidatingWebhooks: []string{cfg.Name}}
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	defer func() { cancel(); g.Expect(<-done).To(Succeed()) }()

	secret := &corev1.Secret{}
	g.Expect(k8sClient.Get(context.Background(), r.Secret, secret)).To(Succeed())
	g.Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(cfg), cfg)).To(Succeed())
		g.Expect(cfg.Webhooks[0].ClientConfig.CABundle).To(Equal(secret.Data[webhookcert.KeyCACert]))
	}).Should(Succeed())
}
