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

package gitlabdeployment

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

func request(name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: name}}
}

// drain takes every item off the queue, in the order the workers get them.
func drain(q priorityqueue.PriorityQueue[reconcile.Request]) []string {
	var out []string
	for q.Len() > 0 {
		req, _, _ := q.GetWithPriority()
		out = append(out, req.Name)
		q.Done(req)
	}
	return out
}

// In a burst, a rollout that has just appeared is reconciled before the
// rollouts in progress are observed and the superseded ones settle, which
// go in the order their events came.
func TestANewRolloutGoesFirst(t *testing.T) {
	g := NewWithT(t)
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	ctx := context.Background()
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	settling := prioritized(atPriority(priorityObserve, func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{request("web-1")}
	}))
	deployments := prioritized(func(context.Context, client.Object) map[reconcile.Request]int {
		return map[reconcile.Request]int{request("web-2"): priorityObserve}
	})
	settling.Update(ctx, event.UpdateEvent{ObjectOld: deploy, ObjectNew: deploy}, q)
	g.Eventually(q.Len).Should(Equal(1))
	deployments.Update(ctx, event.UpdateEvent{ObjectOld: deploy, ObjectNew: deploy}, q)
	g.Eventually(q.Len).Should(Equal(2))
	created := &gitlabv1alpha1.GitLabDeployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api-1"}}
	newRollouts().Create(ctx, event.CreateEvent{Object: created}, q)
	g.Eventually(q.Len).Should(Equal(3))
	g.Expect(drain(q)).To(Equal([]string{"api-1", "web-1", "web-2"}))
}

// At start, the cache's initial list goes behind every event, and raises
// no rollout to the priority of a new one.
func TestTheInitialListGoesLast(t *testing.T) {
	g := NewWithT(t)
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	ctx := context.Background()
	existing := &gitlabv1alpha1.GitLabDeployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api-1"}}
	newRollouts().Create(ctx, event.CreateEvent{Object: existing, IsInInitialList: true}, q)
	deployments := prioritized(func(_ context.Context, obj client.Object) map[reconcile.Request]int {
		return map[reconcile.Request]int{request(obj.GetName() + "-1"): priorityObserve}
	})
	for _, name := range []string{"web", "shop"} {
		deployments.Create(ctx, event.CreateEvent{Object: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}},
			IsInInitialList: name == "web"}, q)
	}
	g.Eventually(q.Len).Should(Equal(2))
	g.Expect(drain(q)).To(Equal([]string{"shop-1", "web-1"}))
}

// A change of a Deployment that its rollout's GitLab record must follow (a
// rollout finished, superseded while running) goes with the new rollouts,
// ahead of mere progress: a rollout that completes while a burst of others
// starts is recorded success at once, not after all of them.
func TestAFinishedRolloutGoesWithTheNewOnes(t *testing.T) {
	cases := []struct {
		name   string
		record string
		deploy func(*appsv1.Deployment)
		want   int
	}{
		{name: "in progress, record running", record: gitlab.StatusRunning, want: priorityObserve},
		{name: "complete, record running", record: gitlab.StatusRunning, deploy: complete, want: priorityNew},
		{name: "complete, no record yet", deploy: complete, want: priorityNew},
		{name: "complete, record success", record: gitlab.StatusSuccess, deploy: complete, want: priorityObserve},
		{name: "past its deadline, record running", record: gitlab.StatusRunning, deploy: func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing,
				Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
		}, want: priorityNew},
		{name: "superseded, record running", record: gitlab.StatusRunning, deploy: func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "app:2"
		}, want: priorityNew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			deploy := stepDeployment(nil)
			gld := stepRollout(deploy, func(gld *gitlabv1alpha1.GitLabDeployment) {
				if tc.record != "" {
					gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: tc.record}
				}
			})
			if tc.deploy != nil {
				tc.deploy(deploy)
			}
			r := stepReconciler(&gitlabCalls{}, deploy, gld)
			g.Expect(byName(r.rolloutsOfDeployment(context.Background(), deploy))).To(Equal(map[string]int{"web-1": tc.want}))
		})
	}
}
