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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func mutatingConfig(name string, webhooks ...string) *admissionregistrationv1.MutatingWebhookConfiguration {
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, w := range webhooks {
		cfg.Webhooks = append(cfg.Webhooks, admissionregistrationv1.MutatingWebhook{Name: w,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: []byte("stale")}})
	}
	return cfg
}

func validatingConfig(name string, webhooks ...string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, w := range webhooks {
		cfg.Webhooks = append(cfg.Webhooks, admissionregistrationv1.ValidatingWebhook{Name: w})
	}
	return cfg
}

// caBundles returns the caBundle of every webhook of a configuration.
func caBundles(g Gomega, c client.Client, obj client.Object) [][]byte {
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	var out [][]byte
	switch cfg := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for _, w := range cfg.Webhooks {
			out = append(out, w.ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for _, w := range cfg.Webhooks {
			out = append(out, w.ClientConfig.CABundle)
		}
	}
	return out
}

func TestInjectSetsTheCABundleOfTheNamedWebhooksOnly(t *testing.T) {
	g := NewWithT(t)
	mutating := mutatingConfig("mutating", "hold.a", "hold.b")
	validating := validatingConfig("validating", "guard.a")
	unrelated := mutatingConfig("someone-else", "theirs")
	c := newFakeClient(interceptor.Funcs{}, mutating, validating, unrelated)
	r := newRotator(t, c, clocktesting.NewFakeClock(start))
	r.ValidatingWebhooks = append(r.ValidatingWebhooks, "not-installed")
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(r.sync(context.Background())).To(Succeed(), "a configuration not installed is skipped")

	ca := getSecret(g, c).Data[KeyCACert]
	g.Expect(caBundles(g, c, mutating)).To(Equal([][]byte{ca, ca}))
	g.Expect(caBundles(g, c, validating)).To(Equal([][]byte{ca}))
	g.Expect(caBundles(g, c, unrelated)).To(Equal([][]byte{[]byte("stale")}))
}

func TestStartInjectsAndRenewsOnItsClock(t *testing.T) {
	g := NewWithT(t)
	mutating := mutatingConfig("mutating", "hold")
	validating := validatingConfig("validating", "guard")
	c := newFakeClient(interceptor.Funcs{}, mutating, validating)
	clk := clocktesting.NewFakeClock(start)
	r := newRotator(t, c, clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	defer func() {
		cancel()
		g.Expect(<-done).To(Succeed())
	}()

	g.Eventually(func(g Gomega) {
		g.Expect(caBundles(g, c, validating)).To(HaveExactElements(Not(BeEmpty())))
	}).WithTimeout(5 * time.Second).Should(Succeed())
	first := caBundles(g, c, validating)[0]
	g.Expect(certsIn(first)).To(Equal(1))

	g.Eventually(clk.HasWaiters).Should(BeTrue())
	clk.Step(validity*2/3 + time.Hour)
	g.Eventually(func(g Gomega) {
		for _, ca := range append(caBundles(g, c, mutating), caBundles(g, c, validating)...) {
			g.Expect(certsIn(ca)).To(Equal(2), "the new CA and the old one")
			g.Expect(ca).To(ContainSubstring(string(first)))
		}
	}).WithTimeout(5 * time.Second).Should(Succeed())
}
