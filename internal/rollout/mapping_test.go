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
	"testing"
	"time"

	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

func TestDesiredRecordFollowsTheMappingTable(t *testing.T) {
	cases := []struct {
		state  State
		record string
		want   RecordAction
	}{
		// A new template being rolled out is created running.
		{StateProgressing, "", RecordAction{Status: "running", Create: true}},
		{StateProgressing, "running", RecordAction{}},
		// A finished record cannot go back to running.
		{StateProgressing, "failed", RecordAction{}},
		{StateComplete, "running", RecordAction{Status: "success"}},
		// First seen already complete: created with success.
		{StateComplete, "", RecordAction{Status: "success", Create: true}},
		{StateComplete, "success", RecordAction{}},
		// failed -> success when the rollout completes after all.
		{StateComplete, "failed", RecordAction{Status: "success"}},
		{StateDeadlineExceeded, "running", RecordAction{Status: "failed"}},
		{StateDeadlineExceeded, "", RecordAction{Status: "failed", Create: true}},
		{StateDeadlineExceeded, "failed", RecordAction{}},
		{StateSuperseded, "running", RecordAction{Status: "canceled"}},
		{StateSuperseded, "success", RecordAction{}},
		{StateSuperseded, "failed", RecordAction{}},
		{StateSuperseded, "", RecordAction{}},
		{StateGone, "running", RecordAction{Status: "canceled"}},
		{StateGone, "canceled", RecordAction{}},
		{StateGone, "", RecordAction{}},
		{StateHeld, "", RecordAction{}},
	}
	for _, tc := range cases {
		t.Run(string(tc.state)+"/"+tc.record, func(t *testing.T) {
			NewWithT(t).Expect(DesiredRecord(tc.state, tc.record)).To(Equal(tc.want))
		})
	}
}

func deploymentWith(replicas int32, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(replicas),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2},
	}
	mutate(d)
	return d
}

func TestObserveRolloutAppliesRolloutStatusRules(t *testing.T) {
	hash := TemplateHash(&deploymentWith(1, func(*appsv1.Deployment) {}).Spec.Template)
	cases := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   State
	}{
		{"complete", func(d *appsv1.Deployment) {
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 3, 3, 3
		}, StateComplete},
		{"old replicas left", func(d *appsv1.Deployment) {
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 4, 3, 3
		}, StateProgressing},
		{"not yet observed", func(d *appsv1.Deployment) {
			d.Status.ObservedGeneration = 1
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 3, 3, 3
		}, StateProgressing},
		{"not all available", func(d *appsv1.Deployment) {
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 3, 3, 2
		}, StateProgressing},
		{"deadline exceeded", func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
		}, StateDeadlineExceeded},
		{"replaced by a new template", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "web:2" }, StateSuperseded},
		{"being deleted", func(d *appsv1.Deployment) { now := metav1.Now(); d.DeletionTimestamp = &now }, StateGone},
		{"paused before it started", func(d *appsv1.Deployment) { d.Spec.Paused = true }, StateHeld},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(Observe(deploymentWith(3, tc.mutate), hash)).To(Equal(tc.want))
		})
	}
	NewWithT(t).Expect(Observe(nil, hash)).To(Equal(StateGone))
}

func TestTemplateHashIgnoresNothingButIsStable(t *testing.T) {
	g := NewWithT(t)
	a := deploymentWith(1, func(*appsv1.Deployment) {}).Spec.Template
	b := *a.DeepCopy()
	g.Expect(TemplateHash(&a)).To(Equal(TemplateHash(&b)))
	b.Labels = map[string]string{"app": "web"}
	g.Expect(TemplateHash(&a)).NotTo(Equal(TemplateHash(&b)))
}

func TestRememberedDeliversWhatTheRolloutDidAfterItIsGone(t *testing.T) {
	g := NewWithT(t)
	succeeded := &gitlabv1alpha1.GitLabDeploymentStatus{Phase: gitlabv1alpha1.PhaseSucceeded, Record: gitlabv1alpha1.GitLabRecord{Status: "running"}}
	failed := &gitlabv1alpha1.GitLabDeploymentStatus{Phase: gitlabv1alpha1.PhaseFailed, Record: gitlabv1alpha1.GitLabRecord{Status: "running"}}
	progressing := &gitlabv1alpha1.GitLabDeploymentStatus{Phase: gitlabv1alpha1.PhaseProgressing, Record: gitlabv1alpha1.GitLabRecord{Status: "running"}}
	g.Expect(Remembered(StateSuperseded, succeeded)).To(Equal(StateComplete), "seen complete, then superseded: it shipped")
	g.Expect(DesiredRecord(Remembered(StateSuperseded, succeeded), "running")).To(Equal(RecordAction{Status: "success"}))
	g.Expect(DesiredRecord(Remembered(StateSuperseded, succeeded), "")).To(Equal(RecordAction{Status: "success", Create: true}),
		"never recorded while GitLab was unavailable: recorded late, as success")
	g.Expect(Remembered(StateGone, failed)).To(Equal(StateDeadlineExceeded))
	g.Expect(Remembered(StateSuperseded, progressing)).To(Equal(StateSuperseded), "replaced before it finished: canceled")
	g.Expect(Remembered(StateProgressing, succeeded)).To(Equal(StateProgressing), "what the Deployment shows wins while it shows it")
}

func TestOnlyRolloutsThatCanChangeAreWatched(t *testing.T) {
	g := NewWithT(t)
	done := func(phase gitlabv1alpha1.RolloutPhase, record string) *gitlabv1alpha1.GitLabDeployment {
		gld := &gitlabv1alpha1.GitLabDeployment{Spec: gitlabv1alpha1.GitLabDeploymentSpec{PodTemplateHash: "old"}}
		gld.Status.Phase = phase
		if record != "" {
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 1, Status: record}
		}
		return gld
	}
	g.Expect(Watched(done(gitlabv1alpha1.PhaseSucceeded, "success"), false, "new")).To(BeFalse(), "superseded after it succeeded: settled")
	g.Expect(Watched(done(gitlabv1alpha1.PhaseCanceled, "canceled"), false, "new")).To(BeFalse())
	g.Expect(Watched(done(gitlabv1alpha1.PhaseFailed, "failed"), false, "new")).To(BeFalse())
	g.Expect(Watched(done(gitlabv1alpha1.PhaseSucceeded, "success"), true, "new")).To(BeTrue(), "the newest rollout can still fail or be deleted")
	g.Expect(Watched(done(gitlabv1alpha1.PhaseCanceled, "canceled"), false, "old")).To(BeTrue(), "its template is applied again")
	g.Expect(Watched(done(gitlabv1alpha1.PhaseProgressing, "running"), false, "new")).To(BeTrue(), "its record must be canceled")
	g.Expect(Watched(done(gitlabv1alpha1.PhaseSucceeded, ""), false, "new")).To(BeTrue(), "finished without a record: recorded late")
}

func TestTheCacheKeepsOnlyWhatTheControllersRead(t *testing.T) {
	g := NewWithT(t)
	full := deploymentWith(3, func(d *appsv1.Deployment) {
		d.Namespace, d.UID, d.ResourceVersion = "shop", "6f1c", "4711"
		d.Annotations = map[string]string{lastAppliedAnnotation: strings.Repeat("x", 4096), "team": "a"}
		d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: strings.Repeat("v", 2048)}}
	})
	hash := TemplateHash(&full.Spec.Template)

	full.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "kept"
	stub, err := TrimForCache(full.DeepCopy())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stub).To(BeAssignableToTypeOf(&Stub{}), "a Deployment that does not opt in is a stub")
	key, err := toolscache.MetaNamespaceKeyFunc(stub)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(key).To(Equal("shop/web"), "the informer's store keys a stub as it keys the Deployment")
	d, ok := FromCache(stub).(*appsv1.Deployment)
	g.Expect(ok).To(BeTrue(), "the stub is handed out as a Deployment")
	g.Expect(d.Spec.Template.Spec.Containers).To(BeEmpty())
	g.Expect(d.Annotations).To(Equal(map[string]string{gitlabv1alpha1.AnnotationApprovalBypass: "kept"}), "only rollgate's annotations are kept")
	g.Expect(d.GroupVersionKind()).To(Equal(appsv1.SchemeGroupVersion.WithKind("Deployment")))
	g.Expect([]any{d.Name, d.Namespace, d.UID, d.ResourceVersion, d.Generation}).
		To(Equal([]any{full.Name, full.Namespace, full.UID, full.ResourceVersion, full.Generation}))
	delete(full.Annotations, gitlabv1alpha1.AnnotationApprovalBypass)

	optedIn := full.DeepCopy()
	optedIn.Annotations[gitlabv1alpha1.AnnotationEnvironment] = "staging"
	trimmed, err := TrimForCache(optedIn)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(FromCache(trimmed)).To(BeIdenticalTo(trimmed), "an opted-in Deployment is kept as a Deployment")
	d = trimmed.(*appsv1.Deployment)
	g.Expect(d.Spec.Template.Spec.Containers).To(BeEmpty(), "the pod template is dropped once hashed")
	g.Expect(d.Annotations).NotTo(HaveKey(lastAppliedAnnotation))
	g.Expect(d.ManagedFields).To(BeEmpty())
	g.Expect(d.Spec.Replicas).To(Equal(full.Spec.Replicas))
	g.Expect(CurrentHash(d)).To(Equal(hash), "the hash of the dropped template stands in for it")
	g.Expect(Observe(d, hash)).To(Equal(Observe(full, hash)))

	spoofed := full.DeepCopy()
	spoofed.Annotations[cachedHashAnnotation] = "approved"
	g.Expect(CurrentHash(spoofed)).To(Equal(hash), "a Deployment with its template is hashed, whatever its annotations say")
}

// A Deployment deleted and created again under the same name numbers its
// rollouts from 1 again; its first rollout is newer than the old
// Deployment's last, which may still wait for its record.
func TestRolloutsOfARecreatedDeploymentAreNewer(t *testing.T) {
	rollout := func(name string, owner types.UID, revision string, created time.Time) gitlabv1alpha1.GitLabDeployment {
		return gitlabv1alpha1.GitLabDeployment{ObjectMeta: metav1.ObjectMeta{
			Name: name, CreationTimestamp: metav1.NewTime(created),
			Annotations:     map[string]string{gitlabv1alpha1.AnnotationRevision: revision},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "app", UID: owner}},
		}}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	oldLast := rollout("app-aaa", "old", "7", t0)
	newFirst := rollout("app-bbb", "new", "1", t0.Add(time.Second))
	newSecond := rollout("app-ccc", "new", "2", t0.Add(time.Second))
	if Compare(newFirst, oldLast) <= 0 || Compare(oldLast, newFirst) >= 0 {
		t.Errorf("the recreated Deployment's first rollout (revision 1) is not newer than the old one's revision 7")
	}
	if Compare(newSecond, newFirst) <= 0 {
		t.Errorf("revisions of one Deployment created in the same second are not ordered by revision")
	}
	sameOwnerOlderByTime := rollout("app-ddd", "new", "3", t0)
	if Compare(sameOwnerOlderByTime, newSecond) <= 0 {
		t.Errorf("within one Deployment the revision must decide, not the creation time")
	}
}
