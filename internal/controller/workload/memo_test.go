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

package workload

import (
	"context"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// lagging is a reader that does not show the rollouts created through it
// until caughtUp, as the manager's cache and the API server's watch cache
// may not for a moment (for longer on a loaded API server).
type lagging struct {
	client.Client
	hidden map[string]bool
}

func (l *lagging) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	obj.SetUID(types.UID("uid-" + obj.GetName()))
	if err := l.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	l.hidden[obj.GetName()] = true
	return nil
}

func (l *lagging) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := l.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if glds, ok := list.(*gitlabv1alpha1.GitLabDeploymentList); ok {
		glds.Items = slices.DeleteFunc(glds.Items, func(gld gitlabv1alpha1.GitLabDeployment) bool { return l.hidden[gld.Name] })
	}
	return nil
}

func (l *lagging) caughtUp() { clear(l.hidden) }

// counting counts the lists made through it.
type counting struct {
	client.Reader
	lists int
}

func (c *counting) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.lists++
	return c.Reader.List(ctx, list, opts...)
}

func webDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 1, Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: "production", gitlabv1alpha1.AnnotationProject: "shop/web",
			gitlabv1alpha1.AnnotationSHA: "0123456789abcdef0123456789abcdef01234567", gitlabv1alpha1.AnnotationRef: "main"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}},
	}
}

// fakeAPI is an API server holding objs, with the cache's index.
func fakeAPI(g Gomega, objs ...client.Object) client.Client {
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(gitlabv1alpha1.AddToScheme(scheme)).To(Succeed())
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&gitlabv1alpha1.GitLabDeployment{}, "spec.workloadRef.name", history.WorkloadOf).Build()
}

// rolloutNames lists the rollouts stored and not being deleted (the record
// finalizer holds a deleted one until the record is finished), oldest
// first.
func rolloutNames(g Gomega, api client.Client) []string {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(api.List(context.Background(), &list)).To(Succeed())
	slices.SortFunc(list.Items, rollout.Compare)
	names := make([]string, 0, len(list.Items))
	for _, gld := range list.Items {
		if gld.DeletionTimestamp.IsZero() {
			names = append(names, gld.Name)
		}
	}
	return names
}

// changeTemplate gives deploy a new pod template, as its next generation.
func changeTemplate(g Gomega, api client.Client, deploy *appsv1.Deployment, image string) {
	g.Expect(api.Get(context.Background(), client.ObjectKeyFromObject(deploy), deploy)).To(Succeed())
	deploy.Generation++
	deploy.Spec.Template.Spec.Containers[0].Image = image
	g.Expect(api.Update(context.Background(), deploy)).To(Succeed())
}

// A Deployment changed again (scaled: a new generation, the same pod
// template) before the caches show the rollout just created for it gets no
// second rollout: its history is read consistently until they do, and from
// the watch cache again afterwards.
func TestARolloutNotYetCachedIsNotCreatedTwice(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	deploy := webDeployment()
	api := fakeAPI(g, deploy)
	cached := &lagging{Client: api, hidden: map[string]bool{}}
	consistent := &counting{Reader: api}
	r := &Reconciler{Client: cached, APIReader: consistent, HistoryReader: cached}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(deploy)}
	rollouts := func() []string { return rolloutNames(g, api) }

	_, err := r.Reconcile(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rollouts()).To(HaveLen(1))
	first := rollouts()

	// Scaled: a new generation with the same template, before the caches
	// show the rollout.
	g.Expect(api.Get(ctx, req.NamespacedName, deploy)).To(Succeed())
	deploy.Generation = 2
	deploy.Spec.Replicas = new(int32(3))
	g.Expect(api.Update(ctx, deploy)).To(Succeed())
	_, err = r.Reconcile(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rollouts()).To(Equal(first), "one rollout of the template")
	g.Expect(consistent.lists).To(Equal(1), "the history read consistently while the caches lag")

	// Once the caches show it, a new template's history is read from the
	// watch cache again.
	cached.caughtUp()
	changeTemplate(g, api, deploy, "web:2")
	_, err = r.Reconcile(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rollouts()).To(HaveLen(2), "a rollout of the new template")
	g.Expect(consistent.lists).To(Equal(1), "no further consistent read")
}

// A new rollout is made at once; the rollouts beyond the history limit are
// deleted by a later reconcile of low priority, so that in a burst every new
// rollout is made first.
func TestTheHistoryIsPrunedAfterTheNewRollout(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	deploy := webDeployment()
	api := fakeAPI(g, deploy)
	r := &Reconciler{Client: api, HistoryLimit: 2}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(deploy)}
	reconcile := func() ctrl.Result {
		res, err := r.Reconcile(ctx, req)
		g.Expect(err).NotTo(HaveOccurred())
		return res
	}
	g.Expect(reconcile()).To(Equal(ctrl.Result{}))
	changeTemplate(g, api, deploy, "web:2")
	g.Expect(reconcile()).To(Equal(ctrl.Result{}))
	before := rolloutNames(g, api)
	g.Expect(before).To(HaveLen(2))

	changeTemplate(g, api, deploy, "web:3")
	res := reconcile()
	all := rolloutNames(g, api)
	g.Expect(all).To(HaveLen(3), "the new rollout made, nothing deleted yet")
	g.Expect(all[:2]).To(Equal(before))
	g.Expect(res.RequeueAfter).To(BeNumerically(">", 0))
	g.Expect(res.Priority).To(HaveValue(Equal(handler.LowPriority)))

	g.Expect(reconcile()).To(Equal(ctrl.Result{}))
	g.Expect(rolloutNames(g, api)).To(Equal(all[1:]), "the oldest deleted")
	g.Expect(reconcile()).To(Equal(ctrl.Result{}), "nothing left to do")
	g.Expect(rolloutNames(g, api)).To(Equal(all[1:]))
}
