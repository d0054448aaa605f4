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
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// A reconcile that reads a cached copy older than the stored object (the
// record's POST or PUT already went out and was saved) sends nothing: its
// write-ahead intent carries the copy's resourceVersion and conflicts, and
// the reconcile goes on with the stored object, which needs nothing sent.
func TestAStaleCachedCopyCannotSendAWriteTwice(t *testing.T) {
	cases := []struct {
		name   string
		deploy func(*appsv1.Deployment)
		// stored is what the API server has; the cache shows the object
		// as it was before, one resourceVersion earlier.
		stored, cached string
	}{
		{name: "POST running already saved", stored: gitlab.StatusRunning},
		{name: "PUT success already saved", deploy: complete, stored: gitlab.StatusSuccess, cached: gitlab.StatusRunning},
		{name: "PUT canceled already saved", stored: gitlab.StatusCanceled, cached: gitlab.StatusRunning,
			deploy: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "app:2" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			gld := stepRollout(stepDeployment(nil), func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Finalizers = []string{gitlabv1alpha1.FinalizerRecord}
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: tc.stored}
			})
			calls := &gitlabCalls{}
			r := stepReconciler(calls, stepDeployment(tc.deploy), gld)
			stored := &gitlabv1alpha1.GitLabDeployment{}
			g.Expect(r.Get(ctx, client.ObjectKeyFromObject(gld), stored)).To(Succeed())
			stale := stored.DeepCopy()
			stale.ResourceVersion = "1" // older than the stored one
			stale.Status.Record = gitlabv1alpha1.GitLabRecord{}
			if tc.cached != "" {
				stale.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: tc.cached}
			}
			g.Expect(stale.ResourceVersion).NotTo(Equal(stored.ResourceVersion))
			// The cache lags; the API server (APIReader) does not.
			r.APIReader = r.Client
			r.Client = interceptor.NewClient(r.Client.(client.WithWatch), interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if cached, ok := obj.(*gitlabv1alpha1.GitLabDeployment); ok && key == client.ObjectKeyFromObject(gld) {
						stale.DeepCopyInto(cached)
						return nil
					}
					return c.Get(ctx, key, obj, opts...)
				},
			})

			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(gld)})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(calls.posts).To(BeEmpty(), "no second POST")
			g.Expect(calls.puts).To(BeEmpty(), "no second PUT")
			after := &gitlabv1alpha1.GitLabDeployment{}
			g.Expect(r.APIReader.Get(ctx, client.ObjectKeyFromObject(gld), after)).To(Succeed())
			g.Expect(after.Status.Record.Status).To(Equal(tc.stored), "the stored record is left as it was")
		})
	}
}

// A rollout whose POST answer was lost adopts its record from GitLab, never
// the record of another rollout of the same commit, also when that one is
// settled and out of the cache: its record-id label says the record is
// taken.
func TestAdoptionSkipsTheRecordOfASettledRollout(t *testing.T) {
	for _, settledHoldsIt := range []bool{true, false} {
		t.Run(map[bool]string{true: "held by a settled rollout", false: "held by none"}[settledHoldsIt], func(t *testing.T) {
			g := NewWithT(t)
			intent := metav1.NewTime(time.Now().Add(-time.Hour))
			gld := stepRollout(stepDeployment(nil), func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Finalizers = []string{gitlabv1alpha1.FinalizerRecord}
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{Intent: gitlab.StatusRunning, IntentTime: &intent}
			})
			other := stepRollout(stepDeployment(nil), func(o *gitlabv1alpha1.GitLabDeployment) {
				o.Name, o.UID, o.Spec.WorkloadRef.Name = "api-1", "uid-api", "api"
				o.Labels = map[string]string{gitlabv1alpha1.LabelWorkload: "api", gitlabv1alpha1.LabelSettled: "true",
					gitlabv1alpha1.LabelRecordID: "100"}
				o.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess}
			})
			calls := &gitlabCalls{}
			r := stepReconciler(calls, stepDeployment(nil), gld)
			// The settled rollout is not in the cache, only in the API server.
			live := []client.Object{stepDeployment(nil), gld.DeepCopy()}
			if settledHoldsIt {
				live = append(live, other)
			}
			r.APIReader = stepReconciler(calls, live...).Client
			found := gitlab.Deployment{ID: 100, IID: 7, Status: gitlab.StatusSuccess, SHA: stepSHA, Ref: "main",
				User: "rollgate", CreatedAt: intent.Add(time.Minute), UpdatedAt: intent.Add(time.Minute)}
			r.GitLab = gitlab.ClientProviderFunc(func(gitlab.Credentials) (gitlab.Client, error) {
				fc := calls.client()
				fc.ListDeploymentsFunc = func(context.Context, string, gitlab.ListOptions) ([]gitlab.Deployment, error) {
					return []gitlab.Deployment{found}, nil
				}
				fc.CurrentUserFunc = func(context.Context) (string, error) { return "rollgate", nil }
				return fc, nil
			})
			s := runPhases(t, r, gld)
			if settledHoldsIt {
				g.Expect(calls.posts).To(Equal([]string{gitlab.StatusRunning}), "another rollout's record is not adopted: a record is made")
			} else {
				g.Expect(calls.posts).To(BeEmpty(), "its own record is adopted")
				g.Expect(s.gld.Status.Record.ID).To(BeEquivalentTo(100))
			}
		})
	}
}
