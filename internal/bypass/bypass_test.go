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

package bypass

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func deployment(uid types.UID, generation int64) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", UID: uid, Generation: generation}}
}

// A signature verifies only for the Deployment, reason and user it was made
// for; whatever else a user writes names nobody.
func TestASignatureNamesOnlyWhoItWasMadeFor(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	keys := &Keys{}
	d := deployment("uid-1", 4)
	value, err := keys.Sign(ctx, d, "5f96db449b", "incident 4711", "olive-oncall")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(User(value)).To(Equal("olive-oncall"))

	s, ok, err := keys.Verify(ctx, d, "incident 4711", value)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(s).To(Equal(Signed{User: "olive-oncall", Template: "5f96db449b"}))

	other := deployment("uid-2", 4)
	claimed := "mallory" + value[len("olive-oncall"):]
	otherTemplate := value[:len(value)-len("5f96db449b.")-43] + "7d4b9c8f6." + value[len(value)-43:]
	for name, tc := range map[string]struct {
		deploy        *appsv1.Deployment
		reason, value string
	}{
		"a plain name":               {d, "incident 4711", "mallory"},
		"another name, same MAC":     {d, "incident 4711", claimed},
		"another template, same MAC": {d, "incident 4711", otherTemplate},
		"another reason":             {d, "incident 4712", value},
		"another Deployment":         {other, "incident 4711", value},
		"another key":                {d, "incident 4711", mustSign(g, &Keys{}, d, "incident 4711")},
		"a MAC cut short":            {d, "incident 4711", value[:len(value)-2]},
	} {
		_, ok, err := keys.Verify(ctx, tc.deploy, tc.reason, tc.value)
		g.Expect(err).NotTo(HaveOccurred(), name)
		g.Expect(ok).To(BeFalse(), name)
	}
}

func mustSign(g Gomega, keys *Keys, d *appsv1.Deployment, reason string) string {
	v, err := keys.Sign(context.Background(), d, "5f96db449b", reason, "olive-oncall")
	g.Expect(err).NotTo(HaveOccurred())
	return v
}

// A Deployment created with the bypass is signed before it has a UID; the
// signature counts until its spec changes.
func TestASignatureMadeAtCreateCountsForTheFirstGeneration(t *testing.T) {
	g := NewWithT(t)
	keys := &Keys{}
	value := mustSign(g, keys, deployment("", 0), "incident")
	_, ok, err := keys.Verify(context.Background(), deployment("uid-1", 1), "incident", value)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	_, ok, err = keys.Verify(context.Background(), deployment("uid-1", 2), "incident", value)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
}

// Replicas share the key through the Secret: the first one makes it, the
// others read it, and each one verifies what another signed.
func TestReplicasShareTheKeyThroughTheSecret(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	secret := types.NamespacedName{Namespace: "rollgate-system", Name: SecretName}
	webhook := &Keys{Client: c, Reader: c, Secret: secret}
	controller := &Keys{Client: c, Reader: c, Secret: secret}
	d := deployment("uid-1", 3)
	value := mustSign(g, webhook, d, "incident")
	s, ok, err := controller.Verify(context.Background(), d, "incident", value)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(s.User).To(Equal("olive-oncall"))

	stored := &corev1.Secret{}
	g.Expect(c.Get(context.Background(), secret, stored)).To(Succeed())
	g.Expect(stored.Data[secretKey]).To(HaveLen(keySize))

	// A Secret made again (deleted, a new key) is read again by a replica
	// that held the old key, as soon as a signature does not verify.
	g.Expect(c.Delete(context.Background(), stored)).To(Succeed())
	fresh := &Keys{Client: c, Reader: c, Secret: secret}
	value = mustSign(g, fresh, d, "incident")
	controller.read = controller.read.Add(-2 * time.Second)
	_, ok, err = controller.Verify(context.Background(), d, "incident", value)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
}
