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

package gitlabdeployment_test

import (
	"context"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/rollout"
)

const settle = 15 * time.Second

func TestRolloutIsRecordedRunningThenSuccessWithTwoWrites(t *testing.T) {
	g := NewWithT(t)
	ns, gl, d := runningRollout(t)
	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseSucceeded), describe(gld))
		g.Expect(gld.Status.Record.Status).To(Equal("success"))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		g.Expect(gld.Status.ObservedGeneration).To(Equal(gld.Generation))
		g.Expect(gld.Status.ShortSHA).To(Equal(testSHA[:8]))
	}, settle).Should(Succeed())
	g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"success"}))

	posts, puts := gl.writes()
	g.Expect([]int{posts, puts}).To(Equal([]int{1, 1}), "a normal rollout costs exactly two writes")
	g.Expect(gl.CountRequests(gitlabtest.EndpointGet, 0)+gl.CountRequests(gitlabtest.EndpointList, 0)).To(BeZero(), "and no reads")
	// Scale-only and metadata-only changes are not rollouts.
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d)).To(Succeed())
	d.Spec.Replicas = ptr.To[int32](5)
	d.Annotations["team"] = "payments"
	g.Expect(k8sClient.Update(context.Background(), d)).To(Succeed())
	g.Consistently(func(g Gomega) {
		var list gitlabv1alpha1.GitLabDeploymentList
		g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))
	}, 2*time.Second).Should(Succeed())
}

func TestDeadlineExceededIsFailedAndALaterCompletionIsSuccess(t *testing.T) {
	g := NewWithT(t)
	_, gl, d := runningRollout(t)

	setStatus(t, d, deadlineExceededStatus)
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseFailed), describe(gld))
		g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"failed"}))
	}, settle).Should(Succeed())

	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, d).Status.Phase).To(Equal(gitlabv1alpha1.PhaseSucceeded))
		g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"success"}), "the same record goes failed -> success")
	}, settle).Should(Succeed())
}

func TestSupersededRolloutIsCanceled(t *testing.T) {
	g := NewWithT(t)
	_, gl, d := runningRollout(t)
	first := rolloutOf(g, d)

	changeTemplate(t, d, "app:2")
	setStatus(t, d, progressing)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"canceled", "running"}))
		old := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(first), old)).To(Succeed())
		g.Expect(old.Status.Phase).To(Equal(gitlabv1alpha1.PhaseCanceled), describe(old))
	}, settle).Should(Succeed())
	setStatus(t, d, completed)
	expectRecords(t, gl, "canceled", "success")
}

func TestDeletedDeploymentCancelsItsRunningRecord(t *testing.T) {
	g := NewWithT(t)
	_, gl, d := runningRollout(t)
	gld := rolloutOf(g, d)
	g.Expect(gld.Finalizers).To(ContainElement(gitlabv1alpha1.FinalizerRecord))

	g.Expect(k8sClient.Delete(context.Background(), d)).To(Succeed())
	// envtest has no garbage collector: delete the owned rollout as it would.
	g.Expect(k8sClient.Delete(context.Background(), gld)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"canceled"}))
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(gld), gld)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the finalizer is released once the record is canceled")
	}, settle).Should(Succeed())
}

// A Deployment deleted and created again under the same name counts its
// revisions from 1 again, while the old one's rollouts may still exist
// (waiting for GitLab before the garbage collector may remove them): the
// new Deployment's rollout is the newest, and recorded as such.
func TestRecreatedDeploymentIsRecordedWhileTheOldRolloutsRemain(t *testing.T) {
	ns, gl, d := runningRollout(t)
	changeTemplate(t, d, "app:2")
	setStatus(t, d, progressing)
	expectRecords(t, gl, "canceled", "running")

	g := NewWithT(t)
	g.Expect(k8sClient.Delete(context.Background(), d)).To(Succeed())
	// envtest has no garbage collector: the old rollouts stay, as they do
	// while their finalizer waits for GitLab.
	again := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationSHA: shaOf("app:3")})
	setStatus(t, again, progressing)
	expectRecords(t, gl, "canceled", "canceled", "running")
	setStatus(t, again, completed)
	expectRecords(t, gl, "canceled", "canceled", "success")
	g.Eventually(func(g Gomega) {
		var list gitlabv1alpha1.GitLabDeploymentList
		g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		phases := map[string]gitlabv1alpha1.RolloutPhase{}
		for _, gld := range list.Items {
			phases[gld.Spec.SHA] = gld.Status.Phase
		}
		g.Expect(phases).To(HaveKeyWithValue(shaOf("app:3"), gitlabv1alpha1.PhaseSucceeded))
	}, settle).Should(Succeed())
}

func TestRolloutFirstSeenCompleteIsCreatedSuccess(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"})
	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.statuses(g, "production")).To(Equal([]string{"success"}))
		g.Expect(rolloutOf(g, d).Status.Phase).To(Equal(gitlabv1alpha1.PhaseSucceeded))
	}, settle).Should(Succeed())
	posts, puts := gl.writes()
	g.Expect([]int{posts, puts}).To(Equal([]int{1, 0}), "one POST with success, no PUT")
}

func TestRollbackIsANewRollout(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	d := newDeployment(t, ns, "web", nil)
	setStatus(t, d, completed)
	expectRecords(t, gl, "success")
	changeTemplate(t, d, "app:2")
	setStatus(t, d, completed)
	// The second rollout completes and is recorded (running, then success)
	// before it is undone.
	expectRecords(t, gl, "success", "success")
	// kubectl rollout undo puts the first template back.
	changeTemplate(t, d, "app:1")
	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		var list gitlabv1alpha1.GitLabDeploymentList
		g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(3))
		g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"success", "success", "success"}))
	}, settle).Should(Succeed())
}

func TestHistoryIsBounded(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	d := newDeployment(t, ns, "web", nil)
	for i := 1; i <= testHistoryLimit+2; i++ {
		changeTemplate(t, d, "app:v"+string(rune('0'+i)))
		setStatus(t, d, completed)
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(HaveLen(i)) }, settle).Should(Succeed())
	}
	g.Eventually(func(g Gomega) {
		var list gitlabv1alpha1.GitLabDeploymentList
		g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(testHistoryLimit))
		// The history leaves the watch: every rollout but the newest is
		// settled, with no finalizer left to hold its deletion.
		slices.SortFunc(list.Items, rollout.Compare)
		for i, gld := range list.Items {
			newest := i == len(list.Items)-1
			g.Expect(rollout.IsSettled(&gld)).To(Equal(!newest), "%s", gld.Name)
			g.Expect(gld.Finalizers).To(Equal(map[bool][]string{true: {gitlabv1alpha1.FinalizerRecord}, false: nil}[newest]), "%s", gld.Name)
		}
	}, settle).Should(Succeed())
	g.Expect(gl.statuses(g, "staging")).To(HaveLen(testHistoryLimit+2), "GitLab keeps every record")
}

var _ = appsv1.SchemeGroupVersion
