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
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// cachedHashAnnotation carries, on a Deployment in rollgate's cache only,
// the hash of the pod template the cache dropped (TrimForCache). It is
// never written to the API server.
const cachedHashAnnotation = "gitlab.rollgate.dev/cached-template-hash"

// lastAppliedAnnotation is kubectl's copy of the whole applied object.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// kindDeployment is the kind of the workloads rollgate records.
const kindDeployment = "Deployment"

// deploymentKind is the type of the Deployments made of stubs.
var deploymentKind = metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: kindDeployment}

// TrimForCache is the cache transform of Deployments: it keeps what the
// controllers read and drops the rest.
//
// A Deployment that does not opt in is reduced to a stub: its name,
// identity, generation, deletion and rollgate's annotations, enough to
// notice that it opts in later, when its next event brings the whole
// object. A stub takes a tenth of the memory of the smallest Deployment,
// whose type embeds a pod template; in a cluster where most Deployments do
// not opt in, stubs are most of the cache. The cache's Deployment informer
// hands them out as Deployments (FromCache).
//
// One that opts in keeps its spec and status without the pod template,
// replaced by its hash. Managed fields and kubectl's last-applied
// annotation are dropped from both.
func TrimForCache(obj any) (any, error) {
	deploy, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	deploy.ManagedFields = nil
	delete(deploy.Annotations, lastAppliedAnnotation)
	if !OptedIn(deploy.Annotations) {
		m := &deploy.ObjectMeta
		return &Stub{name: m.Name, namespace: m.Namespace, uid: m.UID, resourceVersion: m.ResourceVersion,
			generation: m.Generation, deleted: m.DeletionTimestamp, annotations: rollgateAnnotations(m.Annotations)}, nil
	}
	if len(deploy.Spec.Template.Spec.Containers) > 0 {
		if deploy.Annotations == nil {
			deploy.Annotations = map[string]string{}
		}
		deploy.Annotations[cachedHashAnnotation] = TemplateHash(&deploy.Spec.Template)
		deploy.Spec.Template = corev1.PodTemplateSpec{}
	}
	return deploy, nil
}

// ReuseHash spares TrimForCache hashing deploy's pod template again when
// previous, what the cache holds of the same Deployment, is of the same UID
// and generation: a Deployment's generation changes with its spec, so the
// template is the one previous was hashed from. Most of a Deployment's
// events are status changes, and a hash costs about 50 KB of garbage.
func ReuseHash(deploy *appsv1.Deployment, previous any) {
	prev, ok := previous.(*appsv1.Deployment)
	if !ok || prev.UID != deploy.UID || prev.Generation != deploy.Generation || !OptedIn(deploy.Annotations) {
		return
	}
	hash, ok := prev.Annotations[cachedHashAnnotation]
	if !ok || len(prev.Spec.Template.Spec.Containers) > 0 {
		return
	}
	if deploy.Annotations == nil {
		deploy.Annotations = map[string]string{}
	}
	deploy.Annotations[cachedHashAnnotation] = hash
	deploy.Spec.Template = corev1.PodTemplateSpec{}
}

// Stub is what the cache keeps of a Deployment that does not opt in. The
// informer's store reads its key and namespace through GetObjectMeta.
type Stub struct {
	name, namespace, resourceVersion string
	uid                              types.UID
	generation                       int64
	deleted                          *metav1.Time
	annotations                      map[string]string
}

// GetObjectMeta returns the stub's metadata (metav1.ObjectMetaAccessor).
func (s *Stub) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Name: s.name, Namespace: s.namespace, UID: s.uid, ResourceVersion: s.resourceVersion,
		Generation: s.generation, DeletionTimestamp: s.deleted, Annotations: s.annotations}
}

// FromCache turns what TrimForCache stored back into a Deployment: a stub
// becomes a Deployment with the stub's metadata and nothing else, which
// shares the stub's annotations (the cache's readers copy it before they
// hand it out; event handlers must not change what they are given).
// Anything else is returned as it is.
func FromCache(obj any) any {
	if s, ok := obj.(*Stub); ok {
		return &appsv1.Deployment{TypeMeta: deploymentKind, ObjectMeta: *s.GetObjectMeta().(*metav1.ObjectMeta)}
	}
	return obj
}

// rollgateAnnotations keeps the annotations in rollgate's prefix.
func rollgateAnnotations(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		if strings.HasPrefix(k, gitlabv1alpha1.AnnotationEnvironment[:len("gitlab.rollgate.dev/")]) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
