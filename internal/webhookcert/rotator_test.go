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
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const validity = 90 * 24 * time.Hour

var (
	secretKey = types.NamespacedName{Namespace: "rollgate-system", Name: "rollgate-webhook-cert"}
	hosts     = []string{"rollgate-webhook-service.rollgate-system.svc", "127.0.0.1"}
	start     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	return s
}

func newFakeClient(funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(newScheme()).WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
}

// newRotator is one replica's rotator, as it starts.
func newRotator(t *testing.T, c client.Client, clk *clocktesting.FakeClock) *Rotator {
	t.Helper()
	return &Rotator{Client: c, Reader: c, Secret: secretKey, CertDir: t.TempDir(), Hosts: hosts,
		MutatingWebhooks: []string{"mutating"}, ValidatingWebhooks: []string{"validating"},
		Validity: validity, CheckInterval: time.Hour, Clock: clk}
}

func getSecret(g Gomega, c client.Client) *corev1.Secret {
	secret := &corev1.Secret{}
	g.Expect(c.Get(context.Background(), secretKey, secret)).To(Succeed())
	return secret
}

// served is the certificate the webhook server would load.
func served(g Gomega, r *Rotator) []byte {
	data, err := os.ReadFile(filepath.Join(r.CertDir, KeyTLSCert))
	g.Expect(err).NotTo(HaveOccurred())
	key, err := os.ReadFile(filepath.Join(r.CertDir, KeyTLSKey))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = bundle{KeyTLSCert: data, KeyTLSKey: key, KeyCACert: r.current[KeyCACert]}.verify(hosts, r.clock().Now())
	g.Expect(err).NotTo(HaveOccurred(), "the served certificate is valid for every host")
	return data
}

// trusted is the caBundle the rotator injects.
func trusted(r *Rotator) []byte {
	return r.current.trust(r.clock().Now())
}

// certsIn counts the PEM certificates of a caBundle.
func certsIn(data []byte) int {
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		n++
	}
	return n
}

func TestEnsureMakesTheCertificateAndKeepsItInTheSecret(t *testing.T) {
	g := NewWithT(t)
	c := newFakeClient(interceptor.Funcs{})
	r := newRotator(t, c, clocktesting.NewFakeClock(start))
	g.Expect(r.Ensure(context.Background())).To(Succeed())

	secret := getSecret(g, c)
	g.Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
	g.Expect(secret.Data).To(HaveKey(KeyCAKey))
	g.Expect(served(g, r)).To(Equal(secret.Data[KeyTLSCert]))
	block, _ := pem.Decode(secret.Data[KeyTLSCert])
	cert, err := x509.ParseCertificate(block.Bytes)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cert.NotAfter).To(BeTemporally("~", start.Add(validity), time.Second))
	g.Expect(cert.DNSNames).To(Equal(hosts[:1]))
	g.Expect(cert.IPAddresses).To(HaveLen(1))
	info, err := os.Stat(filepath.Join(r.CertDir, KeyTLSKey))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))
}

func TestEnsureReusesAValidSecretAfterARestart(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(start)
	c := newFakeClient(interceptor.Funcs{})
	first := newRotator(t, c, clk)
	g.Expect(first.Ensure(context.Background())).To(Succeed())
	before := getSecret(g, c)

	clk.Step(validity / 2)
	restarted := newRotator(t, c, clk)
	g.Expect(restarted.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, restarted)).To(Equal(served(g, first)), "the same certificate is served")
	g.Expect(getSecret(g, c).ResourceVersion).To(Equal(before.ResourceVersion), "the Secret is not written")
	g.Expect(trusted(restarted)).To(Equal(before.Data[KeyCACert]))
}

func TestEnsureReplacesASecretItCannotServe(t *testing.T) {
	other, err := newBundle([]string{"other.example.com"}, start, validity)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	expired, err := newBundle(hosts, start.Add(-2*validity), validity)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	due, err := newBundle(hosts, start.Add(-validity*2/3-time.Hour), validity)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	valid, err := newBundle(hosts, start, validity)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	with := func(b bundle, key string, value []byte) map[string][]byte {
		out := map[string][]byte{}
		maps.Copy(out, b)
		out[key] = value
		return out
	}
	cases := map[string]map[string][]byte{
		"empty":                     {},
		"garbage certificate":       with(valid, KeyTLSCert, []byte("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")),
		"key of another pair":       with(valid, KeyTLSKey, other[KeyTLSKey]),
		"no CA":                     with(valid, KeyCACert, nil),
		"CA that did not sign it":   with(valid, KeyCACert, other[KeyCACert]),
		"certificate for elsewhere": other,
		"expired":                   expired,
		"due for renewal":           due,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretKey.Namespace, Name: secretKey.Name},
				Type: corev1.SecretTypeOpaque, Data: data}
			c := newFakeClient(interceptor.Funcs{}, old)
			r := newRotator(t, c, clocktesting.NewFakeClock(start))
			g.Expect(r.Ensure(context.Background())).To(Succeed())
			secret := getSecret(g, c)
			g.Expect(secret.Data[KeyTLSCert]).NotTo(Equal(data[KeyTLSCert]))
			g.Expect(served(g, r)).To(Equal(secret.Data[KeyTLSCert]))
			g.Expect(secret.Type).To(Equal(corev1.SecretTypeOpaque), "the Secret's type is immutable")
			g.Expect(certsIn(trusted(r))).To(BeNumerically(">=", 1))
			g.Expect(trusted(r)).To(ContainSubstring(string(secret.Data[KeyCACert])))
		})
	}
}

func TestEnsureRenewsBeforeExpiryAndTrustsBothCAs(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(start)
	c := newFakeClient(interceptor.Funcs{})
	r := newRotator(t, c, clk)
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	first := served(g, r)
	oldCA := getSecret(g, c).Data[KeyCACert]

	clk.Step(validity*2/3 - time.Hour)
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, r)).To(Equal(first), "not renewed before two thirds of the validity")

	clk.Step(2 * time.Hour)
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	renewed := served(g, r)
	g.Expect(renewed).NotTo(Equal(first))
	g.Expect(getSecret(g, c).Data[KeyTLSCert]).To(Equal(renewed))
	g.Expect(certsIn(trusted(r))).To(Equal(2), "the old CA stays trusted while the new certificate rolls out")
	g.Expect(trusted(r)).To(ContainSubstring(string(oldCA)))

	// Another replica, started after the renewal, trusts both CAs too: the
	// Secret keeps them.
	late := newRotator(t, c, clk)
	g.Expect(late.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, late)).To(Equal(renewed))
	g.Expect(trusted(late)).To(Equal(trusted(r)))

	// The next renewal drops the oldest CA.
	clk.Step(validity*2/3 + time.Hour)
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(certsIn(trusted(r))).To(Equal(2))
	g.Expect(trusted(r)).NotTo(ContainSubstring(string(oldCA)))
}

func TestEnsureUsesTheCertificateAnotherReplicaWroteFirst(t *testing.T) {
	g := NewWithT(t)
	winner, err := newBundle(hosts, start, validity)
	g.Expect(err).NotTo(HaveOccurred())
	raced := false
	c := newFakeClient(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*corev1.Secret); ok && !raced {
			raced = true
			other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretKey.Namespace, Name: secretKey.Name},
				Type: corev1.SecretTypeTLS, Data: winner}
			g.Expect(c.Create(ctx, other)).To(Succeed())
		}
		return c.Create(ctx, obj, opts...)
	}})
	r := newRotator(t, c, clocktesting.NewFakeClock(start))
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, r)).To(Equal(winner[KeyTLSCert]))
	g.Expect(getSecret(g, c).Data[KeyTLSCert]).To(Equal(winner[KeyTLSCert]))
}

func TestEnsureWritesADeletedSecretAgain(t *testing.T) {
	g := NewWithT(t)
	c := newFakeClient(interceptor.Funcs{})
	r := newRotator(t, c, clocktesting.NewFakeClock(start))
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	cert := served(g, r)
	g.Expect(c.Delete(context.Background(), getSecret(g, c))).To(Succeed())

	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, r)).To(Equal(cert), "the serving certificate does not change")
	g.Expect(getSecret(g, c).Data[KeyTLSCert]).To(Equal(cert))
}

func TestEnsureWithoutASecretOrHosts(t *testing.T) {
	g := NewWithT(t)
	c := newFakeClient(interceptor.Funcs{})
	r := newRotator(t, c, clocktesting.NewFakeClock(start))
	r.Secret = types.NamespacedName{}
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	cert := served(g, r)
	g.Expect(r.Ensure(context.Background())).To(Succeed())
	g.Expect(served(g, r)).To(Equal(cert), "kept in memory")
	var secrets corev1.SecretList
	g.Expect(c.List(context.Background(), &secrets)).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty())

	r.Hosts = nil
	g.Expect(r.Ensure(context.Background())).To(MatchError(ContainSubstring("host")))
}
