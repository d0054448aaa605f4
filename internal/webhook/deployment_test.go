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

package webhook

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/rollout"
)

func withAnnotations(kv ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		d.Annotations[kv[i]] = kv[i+1]
	}
	return d
}

func TestSignBypassNamesOnlyWhoSetIt(t *testing.T) {
	const bypassKey, by = gitlabv1alpha1.AnnotationApprovalBypass, gitlabv1alpha1.AnnotationApprovalBypassedBy
	keys := &bypass.Keys{}
	deploy := func(image string, kv ...string) *appsv1.Deployment {
		d := withAnnotations(kv...)
		d.Namespace, d.Name, d.UID, d.Generation = "apps", "web", "uid-1", 3
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: image}}
		return d
	}
	v1 := deploy("app:1")
	hash := rollout.TemplateHash(&v1.Spec.Template)
	signed := func(d *appsv1.Deployment, reason, user string) string {
		v, err := keys.Sign(context.Background(), d, hash, reason, user)
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		return v
	}
	other := deploy("app:1")
	other.Name = "api"
	cases := []struct {
		name      string
		old, next *appsv1.Deployment
		wantBy    string
		wantFresh bool
	}{
		{name: "set now: the requester", old: deploy("app:1"), next: deploy("app:1", bypassKey, "incident"),
			wantBy: "olive", wantFresh: true},
		{name: "set now with a claimed name: the requester", old: deploy("app:1"),
			next: deploy("app:1", bypassKey, "incident", by, "mallory"), wantBy: "olive", wantFresh: true},
		{name: "on create: the requester", next: deploy("app:1", bypassKey, "incident"), wantBy: "olive", wantFresh: true},
		{name: "changed: the requester", old: deploy("app:1", bypassKey, "a", by, signed(v1, "a", "bob")),
			next: deploy("app:1", bypassKey, "b", by, signed(v1, "a", "bob")), wantBy: "olive", wantFresh: true},
		{name: "unchanged and signed: who set it before", old: deploy("app:1", bypassKey, "a", by, signed(v1, "a", "bob")),
			next: deploy("app:1", bypassKey, "a", by, "mallory"), wantBy: "bob"},
		{name: "unchanged, written without the webhook: no name", old: deploy("app:1", bypassKey, "a", by, "mallory"),
			next: deploy("app:1", bypassKey, "a", by, "mallory")},
		{name: "unchanged, signed for another Deployment: no name", old: deploy("app:1", bypassKey, "a", by, signed(other, "a", "bob")),
			next: deploy("app:1", bypassKey, "a", by, signed(other, "a", "bob"))},
		{name: "no bypass: no name", old: deploy("app:1"), next: deploy("app:1", by, "mallory")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := &DeploymentHolder{Keys: keys}
			fresh, err := h.signBypass(context.Background(), tc.next, tc.old, hash, tc.old != nil, "olive")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(fresh).To(Equal(tc.wantFresh))
			g.Expect(bypass.User(tc.next.Annotations[by])).To(Equal(tc.wantBy))
			if tc.wantBy == "" {
				g.Expect(tc.next.Annotations).NotTo(HaveKey(by))
				return
			}
			s, ok, err := keys.Verify(context.Background(), tc.next, tc.next.Annotations[bypassKey], tc.next.Annotations[by])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ok).To(BeTrue(), "signed by the webhook")
			g.Expect(s).To(Equal(bypass.Signed{User: tc.wantBy, Template: hash}))
		})
	}
}

// A bypass left on the Deployment does not carry over to a new template:
// the holder removes it, and holds the template.
func TestABypassLeftFromAnEarlierTemplateIsRemoved(t *testing.T) {
	g := NewWithT(t)
	keys := &bypass.Keys{}
	labels := map[string]string{"app": "web"}
	deploy := func(image string) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", UID: "uid-1", Annotations: map[string]string{
				gitlabv1alpha1.AnnotationEnvironment: "production", gitlabv1alpha1.AnnotationApproval: "source=Record"}},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}},
		}
	}
	old := deploy("app:1")
	by, err := keys.Sign(context.Background(), old, rollout.TemplateHash(&old.Spec.Template), "pre-staged", "olive")
	g.Expect(err).NotTo(HaveOccurred())
	old.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "pre-staged"
	old.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = by
	next := deploy("app:2")
	maps.Copy(next.Annotations, old.Annotations)

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(gitlabv1alpha1.AddToScheme(scheme))
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&gitlabv1alpha1.GitLabDeployment{}, "spec.workloadRef.name", func(o client.Object) []string {
			return []string{o.(*gitlabv1alpha1.GitLabDeployment).Spec.WorkloadRef.Name}
		}).Build()
	holder := &DeploymentHolder{Reader: c, Username: "rollgate", Keys: keys}
	raw, err := json.Marshal(old)
	g.Expect(err).NotTo(HaveOccurred())
	ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, UserInfo: authenticationv1.UserInfo{Username: "mallory"},
		OldObject: runtime.RawExtension{Raw: raw}}})
	g.Expect(holder.Default(ctx, next)).To(Succeed())
	g.Expect(next.Spec.Paused).To(BeTrue(), "the new template is held")
	g.Expect(next.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
	g.Expect(next.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypassedBy))
}

// A template approved before (kubectl rollout undo to it) is let through
// even when its rollout is settled, out of the manager's cache: the holder
// reads the history from the API server before it holds.
func TestAnUndoToASettledApprovedTemplateIsNotHeld(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(gitlabv1alpha1.AddToScheme(scheme))
	labels := map[string]string{"app": "web"}
	template := func(image string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
	}
	v1, v2 := template("app:1"), template("app:2")
	deploy := func(t corev1.PodTemplateSpec) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", Annotations: map[string]string{
				gitlabv1alpha1.AnnotationEnvironment: "production", gitlabv1alpha1.AnnotationApproval: "source=Record"}},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: t},
		}
	}
	rolloutOf := func(name string, t corev1.PodTemplateSpec, state gitlabv1alpha1.ApprovalState, settled bool) *gitlabv1alpha1.GitLabDeployment {
		gld := &gitlabv1alpha1.GitLabDeployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Labels: map[string]string{gitlabv1alpha1.LabelWorkload: "web"}},
			Spec: gitlabv1alpha1.GitLabDeploymentSpec{WorkloadRef: gitlabv1alpha1.WorkloadReference{Name: "web"},
				PodTemplateHash: rollout.TemplateHash(&t)},
			Status: gitlabv1alpha1.GitLabDeploymentStatus{Approval: &gitlabv1alpha1.ApprovalStatus{State: state}},
		}
		if settled {
			gld.Labels[gitlabv1alpha1.LabelSettled] = "true"
		}
		return gld
	}
	first := rolloutOf("web-1", v1, gitlabv1alpha1.ApprovalApproved, true)
	second := rolloutOf("web-2", v2, gitlabv1alpha1.ApprovalApproved, false)
	index := func(o client.Object) []string {
		return []string{o.(*gitlabv1alpha1.GitLabDeployment).Spec.WorkloadRef.Name}
	}
	// The cache holds only the watched rollout; the API server all of them.
	cached := fake.NewClientBuilder().WithScheme(scheme).WithObjects(second).
		WithIndex(&gitlabv1alpha1.GitLabDeployment{}, "spec.workloadRef.name", index).Build()
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(first.DeepCopy(), second.DeepCopy()).Build()
	holder := &DeploymentHolder{Reader: cached, APIReader: live, Username: "rollgate"}

	review := func(next, old *appsv1.Deployment) *appsv1.Deployment {
		raw, err := json.Marshal(old)
		g.Expect(err).NotTo(HaveOccurred())
		ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: admissionv1.Update, UserInfo: authenticationv1.UserInfo{Username: "olive"},
			OldObject: runtime.RawExtension{Raw: raw}}})
		g.Expect(holder.Default(ctx, next)).To(Succeed())
		return next
	}
	undone := review(deploy(v1), deploy(v2))
	g.Expect(undone.Spec.Paused).To(BeFalse(), "the settled rollout had this template approved")
	g.Expect(undone.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationHeldTemplate))

	unknown := review(deploy(template("app:3")), deploy(v2))
	g.Expect(unknown.Spec.Paused).To(BeTrue(), "a template never approved is held")
}

// Only rollgate, or a bypass, releases a held template: unpausing it and
// removing or changing the hold marker (to unpause in a second update) are
// refused alike.
func TestTheGuardRefusesEveryWayOutOfAHold(t *testing.T) {
	labels := map[string]string{"app": "web"}
	held := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: "production", gitlabv1alpha1.AnnotationApproval: "source=Record"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:2"}}}}},
	}
	rollout.Hold(held, rollout.TemplateHash(&held.Spec.Template))
	cases := []struct {
		name    string
		user    string
		change  func(*appsv1.Deployment)
		refused bool
	}{
		{name: "unpause", change: func(d *appsv1.Deployment) { d.Spec.Paused = false }, refused: true},
		{name: "remove the hold marker, still paused", refused: true, change: func(d *appsv1.Deployment) {
			delete(d.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
		}},
		{name: "remove the gate and the hold marker", refused: true, change: func(d *appsv1.Deployment) {
			delete(d.Annotations, gitlabv1alpha1.AnnotationApproval)
			delete(d.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
		}},
		{name: "change the hold marker", refused: true, change: func(d *appsv1.Deployment) {
			d.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] = "other"
		}},
		{name: "remove the gate, still held", change: func(d *appsv1.Deployment) {
			delete(d.Annotations, gitlabv1alpha1.AnnotationApproval)
		}},
		{name: "unpause with a bypass", change: func(d *appsv1.Deployment) {
			d.Spec.Paused = false
			d.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident"
		}},
		{name: "a new template", change: func(d *appsv1.Deployment) {
			d.Spec.Paused = false
			delete(d.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
			d.Spec.Template.Spec.Containers[0].Image = "app:3"
		}},
		{name: "rollgate releases it", user: "rollgate", change: func(d *appsv1.Deployment) { rollout.Release(d) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			user := tc.user
			if user == "" {
				user = "olive"
			}
			next := held.DeepCopy()
			tc.change(next)
			ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Operation: admissionv1.Update, UserInfo: authenticationv1.UserInfo{Username: user}}})
			_, err := (&DeploymentGuard{Username: "rollgate"}).ValidateUpdate(ctx, held.DeepCopy(), next)
			if tc.refused {
				g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
				g.Expect(err).To(MatchError(ContainSubstring(gitlabv1alpha1.AnnotationApprovalBypass)))
			} else {
				g.Expect(err).NotTo(HaveOccurred())
			}
		})
	}
}
