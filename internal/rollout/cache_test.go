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

package rollout

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

func cacheDeployment(uid string, generation int64, image string, optedIn bool) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: types.UID("uid-" + uid), Generation: generation},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}}}
	if optedIn {
		d.Annotations = map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"}
	}
	return d
}

// The template's hash is reused only from the same Deployment (UID) at the
// same generation, as cached for an opted-in Deployment.
func TestTheTemplateHashIsReusedOnlyWithinAGeneration(t *testing.T) {
	cached := func(d *appsv1.Deployment) any {
		out, err := TrimForCache(d)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	previous := cached(cacheDeployment("a", 1, "app:1", true))
	hash1 := TemplateHash(&cacheDeployment("a", 1, "app:1", true).Spec.Template)
	hash2 := TemplateHash(&cacheDeployment("a", 1, "app:2", true).Spec.Template)
	cases := []struct {
		name     string
		previous any
		event    *appsv1.Deployment
		want     string
	}{
		{"same generation", previous, cacheDeployment("a", 1, "app:2", true), hash1},
		{"new generation", previous, cacheDeployment("a", 2, "app:2", true), hash2},
		{"recreated under the same name", previous, cacheDeployment("b", 1, "app:2", true), hash2},
		{"cached as a stub", cached(cacheDeployment("a", 1, "app:1", false)), cacheDeployment("a", 1, "app:2", true), hash2},
		{"nothing cached", nil, cacheDeployment("a", 1, "app:2", true), hash2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ReuseHash(tc.event, tc.previous)
			got, ok := cached(tc.event).(*appsv1.Deployment)
			if !ok {
				t.Fatalf("cached as %T", cached(tc.event))
			}
			if h := CurrentHash(got); h != tc.want {
				t.Errorf("hash %q, want %q", h, tc.want)
			}
		})
	}
	event := cacheDeployment("a", 1, "app:2", false)
	ReuseHash(event, previous)
	if _, ok := cached(event).(*Stub); !ok {
		t.Errorf("a Deployment that opted out is cached as a stub")
	}
}
