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

package operator

import (
	"maps"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// fakeDeployments lists the given Deployments and then streams what the
// test sends on its watch.
type fakeDeployments struct {
	list  []appsv1.Deployment
	watch *watch.FakeWatcher
}

func (f *fakeDeployments) List(metav1.ListOptions) (runtime.Object, error) {
	return &appsv1.DeploymentList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: f.list}, nil
}

func (f *fakeDeployments) Watch(metav1.ListOptions) (watch.Interface, error) { return f.watch, nil }

func (f *fakeDeployments) IsWatchListSemanticsUnSupported() bool { return true }

// deployment gives each Deployment its own annotations, as decoding does:
// the cache's transform may change the objects it is handed.
func deployment(name string, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1", Annotations: maps.Clone(annotations)},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}},
	}
}

// recorder keeps the types of the objects each event carried.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(kind string, objs ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range objs {
		if tombstone, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = tombstone.Obj
		}
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			r.events = append(r.events, kind+" not a Deployment")
			continue
		}
		r.events = append(r.events, kind+" "+d.Name+" opted-in="+map[bool]string{true: "yes", false: "no"}[rollout.OptedIn(d.Annotations)])
	}
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// The cache keeps Deployments that do not opt in as metadata stubs, and
// every reader and event handler still gets a Deployment.
func TestTheDeploymentCacheHandsOutStubsAsDeployments(t *testing.T) {
	g := NewWithT(t)
	env := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"}
	lw := &fakeDeployments{list: []appsv1.Deployment{*deployment("plain", nil), *deployment("opted", env)}, watch: watch.NewFake()}
	inf := newInformer(lw, &appsv1.Deployment{}, 0, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
	g.Expect(inf.SetTransform(rollout.TrimForCache)).To(Succeed())
	rec := &recorder{}
	_, err := inf.AddEventHandlerWithOptions(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rec.add("add", obj) },
		UpdateFunc: func(oldObj, newObj any) { rec.add("update", oldObj, newObj) },
		DeleteFunc: func(obj any) { rec.add("delete", obj) },
	}, toolscache.HandlerOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	go inf.RunWithContext(t.Context())
	g.Eventually(inf.HasSynced, 10*time.Second, 10*time.Millisecond).Should(BeTrue())

	raw, _, _ := inf.(deploymentInformer).SharedIndexInformer.GetIndexer().GetByKey("shop/plain")
	g.Expect(raw).To(BeAssignableToTypeOf(&rollout.Stub{}), "the store keeps a stub of a Deployment that does not opt in")

	got, exists, err := inf.GetIndexer().GetByKey("shop/plain")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(exists).To(BeTrue())
	g.Expect(got).To(BeAssignableToTypeOf(&appsv1.Deployment{}))
	g.Expect(got.(*appsv1.Deployment).UID).To(BeEquivalentTo("uid-plain"))
	got, _, _ = inf.GetStore().Get(deployment("opted", nil))
	g.Expect(rollout.CurrentHash(got.(*appsv1.Deployment))).To(Equal(rollout.TemplateHash(&deployment("opted", nil).Spec.Template)))
	inNamespace, err := inf.GetIndexer().ByIndex(toolscache.NamespaceIndex, "shop")
	g.Expect(err).NotTo(HaveOccurred())
	likeIt, err := inf.GetIndexer().Index(toolscache.NamespaceIndex, deployment("other", nil))
	g.Expect(err).NotTo(HaveOccurred())
	for _, list := range [][]any{inf.GetIndexer().List(), inf.GetStore().List(), inNamespace, likeIt} {
		g.Expect(list).To(HaveLen(2))
		g.Expect(list).To(HaveEach(BeAssignableToTypeOf(&appsv1.Deployment{})))
	}
	g.Expect(inf.GetIndexer().ByIndex(toolscache.NamespaceIndex, "elsewhere")).To(BeEmpty())
	g.Expect(inf.GetIndexer().GetIndexers()).NotTo(HaveKey(toolscache.NamespaceIndex), "the namespace is not indexed")

	// Opting in brings the whole object; opting out makes it a stub again.
	optIn := deployment("plain", env)
	optIn.ResourceVersion = "2"
	lw.watch.Modify(optIn)
	g.Eventually(func() any {
		raw, _, _ := inf.(deploymentInformer).SharedIndexInformer.GetIndexer().GetByKey("shop/plain")
		return raw
	}).Should(BeAssignableToTypeOf(&appsv1.Deployment{}))
	optOut := deployment("opted", nil)
	optOut.ResourceVersion = "3"
	lw.watch.Modify(optOut)
	lw.watch.Delete(optOut)
	g.Eventually(rec.seen).Should(ConsistOf(
		"add plain opted-in=no", "add opted opted-in=yes",
		"update plain opted-in=no", "update plain opted-in=yes",
		"update opted opted-in=yes", "update opted opted-in=no",
		"delete opted opted-in=no",
	))
}

func TestOnlyTheDeploymentInformerIsWrapped(t *testing.T) {
	g := NewWithT(t)
	lw := &fakeDeployments{watch: watch.NewFake()}
	g.Expect(newInformer(lw, &gitlabv1alpha1.GitLabDeployment{}, 0, nil)).NotTo(BeAssignableToTypeOf(deploymentInformer{}))
	g.Expect(newInformer(lw, &appsv1.Deployment{}, 0, nil)).To(BeAssignableToTypeOf(deploymentInformer{}))
}

// The GitLabDeployment informer tells the resourceVersion it has seen, so
// that the whole history is listed from the watch cache (history.Reader),
// not with a consistent read.
func TestTheGitLabDeploymentInformerTellsWhatItHasSeen(t *testing.T) {
	g := NewWithT(t)
	lw := &fakeDeployments{watch: watch.NewFake()}
	synced, ok := newInformer(lw, &gitlabv1alpha1.GitLabDeployment{}, 0, nil).(history.Synced)
	g.Expect(ok).To(BeTrue())
	g.Expect(synced.LastSyncResourceVersion()).To(BeEmpty(), "nothing listed yet")
}

// A Deployment's pod template is hashed once per generation: an event of
// the same generation (a status change) keeps the hash the store holds,
// and one of a new generation is hashed again.
func TestTheTemplateIsHashedOncePerGeneration(t *testing.T) {
	g := NewWithT(t)
	env := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"}
	first := deployment("web", env)
	first.Generation = 1
	lw := &fakeDeployments{list: []appsv1.Deployment{*first}, watch: watch.NewFake()}
	inf := newInformer(lw, &appsv1.Deployment{}, 0, nil)
	g.Expect(inf.SetTransform(rollout.TrimForCache)).To(Succeed())
	go inf.RunWithContext(t.Context())
	g.Eventually(inf.HasSynced, 10*time.Second, 10*time.Millisecond).Should(BeTrue())
	cachedHash := func() string {
		got, _, _ := inf.GetIndexer().GetByKey("shop/web")
		return rollout.CurrentHash(got.(*appsv1.Deployment))
	}
	hash1 := rollout.TemplateHash(&deployment("web", env).Spec.Template)
	g.Expect(cachedHash()).To(Equal(hash1))

	// A status change: the same generation. Its template is given another
	// image here, which the API server never does within a generation, so
	// that a second hash would show.
	status := deployment("web", env)
	status.Generation, status.ResourceVersion = 1, "2"
	status.Spec.Template.Spec.Containers[0].Image = "app:2"
	status.Status.ObservedGeneration = 1
	lw.watch.Modify(status)
	g.Eventually(func() int64 {
		got, _, _ := inf.GetIndexer().GetByKey("shop/web")
		return got.(*appsv1.Deployment).Status.ObservedGeneration
	}).Should(BeEquivalentTo(1))
	g.Expect(cachedHash()).To(Equal(hash1), "not hashed again")

	next := deployment("web", env)
	next.Generation, next.ResourceVersion = 2, "3"
	next.Spec.Template.Spec.Containers[0].Image = "app:2"
	hash2 := rollout.TemplateHash(&next.Spec.Template)
	g.Expect(hash2).NotTo(Equal(hash1))
	lw.watch.Modify(next) // the cache's transform changes what it is given
	g.Eventually(cachedHash).Should(Equal(hash2), "a new generation is hashed")
}
