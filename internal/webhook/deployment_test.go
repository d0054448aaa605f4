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
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
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
	const bypass, by = gitlabv1alpha1.AnnotationApprovalBypass, gitlabv1alpha1.AnnotationApprovalBypassedBy
	cases := []struct {
		name      string
		old, next *appsv1.Deployment
		wantBy    string
		wantFresh bool
	}{
		{name: "set now: the requester", old: withAnnotations(), next: withAnnotations(bypass, "incident"),
			wantBy: "olive", wantFresh: true},
		{name: "set now with a claimed name: the requester", old: withAnnotations(),
			next: withAnnotations(bypass, "incident", by, "mallory"), wantBy: "olive", wantFresh: true},
		{name: "on create: the requester", next: withAnnotations(bypass, "incident"), wantBy: "olive", wantFresh: true},
		{name: "changed: the requester", old: withAnnotations(bypass, "a", by, "bob"), next: withAnnotations(bypass, "b", by, "bob"),
			wantBy: "olive", wantFresh: true},
		{name: "unchanged: who set it before", old: withAnnotations(bypass, "a", by, "bob"), next: withAnnotations(bypass, "a", by, "mallory"),
			wantBy: "bob"},
		{name: "no bypass: no name", old: withAnnotations(), next: withAnnotations(by, "mallory")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(signBypass(tc.next, tc.old, "olive")).To(Equal(tc.wantFresh))
			g.Expect(tc.next.Annotations[by]).To(Equal(tc.wantBy))
		})
	}
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
