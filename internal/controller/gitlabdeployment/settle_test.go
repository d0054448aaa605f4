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
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/rollout"
)

// A superseded rollout with nothing left to do is labeled settled and loses
// its record finalizer, in one write after its status; one that can still
// change, or still has something to read or to hand on, stays watched.
func TestASupersededRolloutSettlesOnlyWithNothingLeftToDo(t *testing.T) {
	long := metav1.NewTime(time.Now().Add(-2 * time.Hour))
	recent := metav1.NewTime(time.Now().Add(-time.Minute))
	cases := []struct {
		name   string
		old    func(*gitlabv1alpha1.GitLabDeployment)
		deploy func(*appsv1.Deployment)
		newest func(*gitlabv1alpha1.GitLabDeployment)
		settle bool
		puts   []string
	}{
		{name: "succeeded, shipped read", settle: true, old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &recent}
			gld.Status.Shipped = &gitlabv1alpha1.ShippedStatus{}
		}},
		{name: "succeeded long ago", settle: true, old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &long}
		}},
		{name: "canceled", settle: true, old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseCanceled
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusCanceled, UpdatedAt: &recent}
		}},
		{name: "succeeded, shipped read still due", old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &recent}
		}},
		{name: "record running: canceled, then settled", settle: true, puts: []string{gitlab.StatusCanceled}, old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseProgressing
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusRunning, UpdatedAt: &recent}
		}},
		{name: "declined: kept to hold its template", old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Spec.Approval = &gitlabv1alpha1.ApprovalGate{}
			gld.Status.Phase = gitlabv1alpha1.PhaseCanceled
			gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalRejected}
		}},
		{name: "the newest has not started from its environment yet", old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &long}
			gld.Status.Environment = &gitlabv1alpha1.EnvironmentStatus{Desired: "x"}
		}, deploy: func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{gitlabv1alpha1.AnnotationTier: "production"}
		}},
		{name: "the newest started from its environment", settle: true, old: func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &long}
			gld.Status.Environment = &gitlabv1alpha1.EnvironmentStatus{Desired: "x"}
		}, deploy: func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{gitlabv1alpha1.AnnotationTier: "production"}
		},
			newest: func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Status.Environment = &gitlabv1alpha1.EnvironmentStatus{Desired: "x"}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			original := stepDeployment(nil)
			old := stepRollout(original, func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Labels = map[string]string{gitlabv1alpha1.LabelWorkload: "web"}
				gld.Finalizers = []string{gitlabv1alpha1.FinalizerRecord}
				tc.old(gld)
			})
			deploy := stepDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "app:2"
				d.Generation = 2
				if tc.deploy != nil {
					tc.deploy(d)
				}
			})
			newest := stepRollout(deploy, func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Name, gld.UID = "web-2", "uid-2"
				gld.Annotations[gitlabv1alpha1.AnnotationRevision] = "2"
				gld.Labels = map[string]string{gitlabv1alpha1.LabelWorkload: "web"}
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 101, IID: 8, Status: gitlab.StatusRunning}
				if tc.newest != nil {
					tc.newest(gld)
				}
			})
			calls := &gitlabCalls{}
			r := stepReconciler(calls, deploy, old, newest)
			if tc.settle && tc.puts == nil {
				// The Deployment's events reach a rollout ready to settle.
				g.Expect(byName(r.rolloutsOfDeployment(ctx, deploy))).To(Equal(map[string]int{"web-1": priorityObserve, "web-2": priorityObserve}))
				// So do the changes of the newest rollout.
				g.Expect(requested(r.settleableBefore(ctx, newest))).To(ConsistOf("web-1"))
			}
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(old)})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(calls.puts).To(Equal(tc.puts))
			stored := &gitlabv1alpha1.GitLabDeployment{}
			g.Expect(r.Get(ctx, client.ObjectKeyFromObject(old), stored)).To(Succeed())
			g.Expect(rollout.IsSettled(stored)).To(Equal(tc.settle))
			if tc.settle {
				g.Expect(stored.Finalizers).To(BeEmpty(), "nothing is left to cancel")
				g.Expect(stored.Labels).To(HaveKeyWithValue(gitlabv1alpha1.LabelRecordID, "100"), "its record stays known as taken")
				g.Expect(byName(r.rolloutsOfDeployment(ctx, deploy))).To(Equal(map[string]int{"web-2": priorityObserve}))
			} else {
				g.Expect(stored.Finalizers).To(ConsistOf(gitlabv1alpha1.FinalizerRecord))
			}
		})
	}
}

// byName is the priority of each rollout requested, by name.
func byName(reqs map[reconcile.Request]int) map[string]int {
	out := map[string]int{}
	for req, priority := range reqs {
		out[req.Name] = priority
	}
	return out
}

func requested(reqs []reconcile.Request) []string {
	names := make([]string, 0, len(reqs))
	for _, req := range reqs {
		names = append(names, req.Name)
	}
	return names
}

// The read of what a rollout shipped waits, after its delay, behind the
// work of rollouts in progress: it is requeued at low priority.
func TestTheShippedReadWaitsAtLowPriority(t *testing.T) {
	g := NewWithT(t)
	now := time.Now()
	succeeded := metav1.NewTime(now)
	gld := stepRollout(stepDeployment(nil), func(gld *gitlabv1alpha1.GitLabDeployment) {
		gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess, UpdatedAt: &succeeded}
	})
	r := &Reconciler{ShippedDelay: 30 * time.Second}
	result, err := r.reconcileShipped(context.Background(), newScope(gld, now))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.RequeueAfter).To(Equal(30 * time.Second))
	g.Expect(result.Priority).To(HaveValue(Equal(handler.LowPriority)))
}
