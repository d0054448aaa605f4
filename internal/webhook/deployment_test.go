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
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
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
