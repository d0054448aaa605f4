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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// Step-level tests of the phases, on controller-runtime's fake client and
// the fake GitLab client: no control plane.

const (
	stepNS  = "apps"
	stepSHA = "0123456789abcdef0123456789abcdef01234567"
)

func stepScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(gitlabv1alpha1.AddToScheme(s))
	return s
}

func stepDeployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: stepNS, Name: "web", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2},
	}
	if mutate != nil {
		mutate(d)
	}
	return d
}

func complete(d *appsv1.Deployment) {
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}
}

func stepRollout(d *appsv1.Deployment, mutate func(*gitlabv1alpha1.GitLabDeployment)) *gitlabv1alpha1.GitLabDeployment {
	gld := &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: stepNS, Name: "web-1", UID: "uid-1", Generation: 1,
			Labels:      map[string]string{gitlabv1alpha1.LabelWorkload: "web"},
			Annotations: map[string]string{gitlabv1alpha1.AnnotationRevision: "1"}},
		Spec: gitlabv1alpha1.GitLabDeploymentSpec{
			WorkloadRef: gitlabv1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			Environment: "staging", Project: "group/app", SHA: stepSHA, Ref: "main",
			PodTemplateHash: rollout.TemplateHash(&d.Spec.Template)},
	}
	if mutate != nil {
		mutate(gld)
	}
	return gld
}

// gitlabCalls counts the fake GitLab client's writes and answers them as
// GitLab would.
type gitlabCalls struct {
	posts, puts []string
}

func (c *gitlabCalls) client() *gitlab.FakeClient {
	now := time.Now()
	return &gitlab.FakeClient{
		CreateDeploymentFunc: func(_ context.Context, _ string, opts gitlab.CreateOptions) (*gitlab.Deployment, error) {
			c.posts = append(c.posts, opts.Status)
			return &gitlab.Deployment{ID: 100, IID: 7, Status: opts.Status, SHA: opts.SHA, Ref: opts.Ref, CreatedAt: now, UpdatedAt: now}, nil
		},
		UpdateDeploymentStatusFunc: func(_ context.Context, _ string, id int64, status string) (*gitlab.Deployment, error) {
			c.puts = append(c.puts, status)
			return &gitlab.Deployment{ID: id, IID: 7, Status: status, CreatedAt: now, UpdatedAt: now}, nil
		},
	}
}

func stepReconciler(calls *gitlabCalls, objs ...client.Object) *Reconciler {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: stepNS, Name: "gitlab"},
		Data: map[string][]byte{"url": []byte("https://gitlab.example.com"), "token": []byte("glpat-x")}}
	c := fake.NewClientBuilder().WithScheme(stepScheme()).WithObjects(append(objs, secret)...).
		WithStatusSubresource(&gitlabv1alpha1.GitLabDeployment{}).
		WithIndex(&gitlabv1alpha1.GitLabDeployment{}, "spec.workloadRef.name", history.WorkloadOf).
		WithIndex(&gitlabv1alpha1.GitLabDeployment{}, history.RecordIndex, history.RecordOf).Build()
	return &Reconciler{Client: c, Credentials: &CredentialsResolver{Reader: c},
		GitLab: gitlab.ClientProviderFunc(func(gitlab.Credentials) (gitlab.Client, error) { return calls.client(), nil })}
}

// runPhases runs the reconcile's phases and the summary on gld as stored.
func runPhases(t *testing.T, r *Reconciler, gld *gitlabv1alpha1.GitLabDeployment) *scope {
	t.Helper()
	g := NewWithT(t)
	stored := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(gld), stored)).To(Succeed())
	s := newScope(stored, time.Now())
	_, err := r.doReconcile(context.Background(), s, []phase{r.reconcileValidation, r.reconcileObservation, r.reconcileGate, r.reconcileRecord})
	g.Expect(err).NotTo(HaveOccurred())
	summarize(s)
	return s
}

func TestPhasesSendOnlyTheTransitionTheRolloutShows(t *testing.T) {
	cases := []struct {
		name      string
		deploy    func(*appsv1.Deployment)
		record    string
		wantPosts []string
		wantPuts  []string
		wantPhase gitlabv1alpha1.RolloutPhase
	}{
		{name: "in progress, no record: POST running", wantPosts: []string{"running"}, wantPhase: gitlabv1alpha1.PhaseProgressing},
		{name: "in progress, running: nothing", record: "running", wantPhase: gitlabv1alpha1.PhaseProgressing},
		{name: "complete, running: PUT success", deploy: complete, record: "running", wantPuts: []string{"success"},
			wantPhase: gitlabv1alpha1.PhaseSucceeded},
		{name: "complete, success: nothing", deploy: complete, record: "success", wantPhase: gitlabv1alpha1.PhaseSucceeded},
		{name: "superseded, running: PUT canceled", record: "running", wantPuts: []string{"canceled"},
			deploy:    func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "app:2" },
			wantPhase: gitlabv1alpha1.PhaseCanceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			original := stepDeployment(nil)
			gld := stepRollout(original, func(gld *gitlabv1alpha1.GitLabDeployment) {
				if tc.record != "" {
					gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: tc.record}
				}
			})
			calls := &gitlabCalls{}
			r := stepReconciler(calls, stepDeployment(tc.deploy), gld)
			s := runPhases(t, r, gld)
			g.Expect(calls.posts).To(Equal(tc.wantPosts))
			g.Expect(calls.puts).To(Equal(tc.wantPuts))
			g.Expect(s.gld.Status.Phase).To(Equal(tc.wantPhase))
			g.Expect(s.gld.Status.Record.Intent).To(BeEmpty(), "the intent is cleared once GitLab answered")
		})
	}
}

// A rollout that ended and was superseded is settled: what its Deployment
// does next (the newer rollout's progress) is not copied into its status,
// so a reconcile of it (after a restart, say) writes nothing.
func TestASupersededRolloutKeepsWhatWasSeenOfIt(t *testing.T) {
	for _, phase := range []gitlabv1alpha1.RolloutPhase{gitlabv1alpha1.PhaseFailed, gitlabv1alpha1.PhaseSucceeded} {
		t.Run(string(phase), func(t *testing.T) {
			g := NewWithT(t)
			now := time.Now().Truncate(time.Second)
			started, finished := metav1.NewTime(now.Add(-time.Hour)), metav1.NewTime(now.Add(-50*time.Minute))
			original := stepDeployment(nil)
			gld := stepRollout(original, func(gld *gitlabv1alpha1.GitLabDeployment) {
				record := gitlab.StatusFailed
				if phase == gitlabv1alpha1.PhaseSucceeded {
					record = gitlab.StatusSuccess
				}
				gld.Status.Phase = phase
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: record}
				gld.Status.Rollout = gitlabv1alpha1.RolloutObservation{Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1,
					Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet \"web-1\" has timed out progressing.",
					StartedAt: &started, FinishedAt: &finished}
			})
			before := gld.Status.Rollout
			newer := stepDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "app:2"
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 5, UpdatedReplicas: 5, AvailableReplicas: 5,
					Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
						Reason: "NewReplicaSetAvailable"}}}
			})
			calls := &gitlabCalls{}
			s := runPhases(t, stepReconciler(calls, newer, gld), gld)
			g.Expect(calls.posts).To(BeEmpty())
			g.Expect(calls.puts).To(BeEmpty())
			g.Expect(s.gld.Status.Phase).To(Equal(phase))
			g.Expect(s.gld.Status.Rollout).To(Equal(before), "the newer rollout's progress is not this one's")
		})
	}
}

func TestValidationPhaseStallsBeforeAnyGitLabRequest(t *testing.T) {
	g := NewWithT(t)
	d := stepDeployment(nil)
	gld := stepRollout(d, func(gld *gitlabv1alpha1.GitLabDeployment) { gld.Spec.Project = "../x" })
	calls := &gitlabCalls{}
	r := stepReconciler(calls, d, gld)
	stored := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(gld), stored)).To(Succeed())
	s := newScope(stored, time.Now())
	_, err := r.doReconcile(context.Background(), s, []phase{r.reconcileValidation, r.reconcileObservation, r.reconcileRecord})
	g.Expect(err).To(HaveOccurred(), "an invalid spec is a terminal error")
	summarize(s)
	g.Expect(calls.posts).To(BeEmpty())
	stalled := findCondition(s.gld, gitlabv1alpha1.ConditionStalled)
	g.Expect(stalled).NotTo(BeNil())
	g.Expect(stalled.Reason).To(Equal(gitlabv1alpha1.ReasonInvalidProject))
}

func findCondition(gld *gitlabv1alpha1.GitLabDeployment, t string) *metav1.Condition {
	for i := range gld.Status.Conditions {
		if gld.Status.Conditions[i].Type == t {
			return &gld.Status.Conditions[i]
		}
	}
	return nil
}

func TestSummaryComputesEveryConditionFromTheScope(t *testing.T) {
	cases := []struct {
		name                         string
		target                       rollout.State
		problem                      problem
		wantReady, wantStalled       metav1.ConditionStatus
		wantReconciling, wantRecord  metav1.ConditionStatus
		wantReadyReason, wantMessage string
	}{
		{name: "progressing", target: rollout.StateProgressing, wantReady: metav1.ConditionFalse, wantReconciling: metav1.ConditionTrue,
			wantRecord: metav1.ConditionTrue, wantReadyReason: "Progressing"},
		{name: "succeeded", target: rollout.StateComplete, wantReady: metav1.ConditionTrue, wantRecord: metav1.ConditionTrue,
			wantReadyReason: "Succeeded"},
		{name: "stalled", target: rollout.StateProgressing, problem: problem{reason: "Forbidden", message: "403", stalled: true},
			wantReady: metav1.ConditionFalse, wantStalled: metav1.ConditionTrue, wantRecord: metav1.ConditionFalse, wantReadyReason: "Forbidden"},
		{name: "waiting for GitLab", target: rollout.StateProgressing, problem: problem{reason: "GitLabUnavailable", message: "503"},
			wantReady: metav1.ConditionFalse, wantReconciling: metav1.ConditionTrue, wantRecord: metav1.ConditionFalse,
			wantReadyReason: "GitLabUnavailable"},
	}
	status := func(gld *gitlabv1alpha1.GitLabDeployment, t string) metav1.ConditionStatus {
		if c := findCondition(gld, t); c != nil {
			return c.Status
		}
		return ""
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			gld := stepRollout(stepDeployment(nil), nil)
			s := &scope{gld: gld, target: tc.target, problem: tc.problem, synced: true, now: time.Now()}
			summarize(s)
			g.Expect(status(gld, gitlabv1alpha1.ConditionReady)).To(Equal(tc.wantReady))
			g.Expect(findCondition(gld, gitlabv1alpha1.ConditionReady).Reason).To(Equal(tc.wantReadyReason))
			g.Expect(status(gld, gitlabv1alpha1.ConditionStalled)).To(Equal(tc.wantStalled))
			g.Expect(status(gld, gitlabv1alpha1.ConditionReconciling)).To(Equal(tc.wantReconciling))
			g.Expect(status(gld, gitlabv1alpha1.ConditionRecordSynced)).To(Equal(tc.wantRecord))
			g.Expect(status(gld, gitlabv1alpha1.ConditionApproved)).To(BeEmpty(), "no gate decision, no Approved condition")
		})
	}
}

func TestWrittenCopyStandsInOnlyForAnOlderCache(t *testing.T) {
	g := NewWithT(t)
	var w writtenObjects
	gld := stepRollout(stepDeployment(nil), nil)
	gld.ResourceVersion = "10"
	gld.Status.Record.Status = "running"
	w.remember(gld)

	stale := gld.DeepCopy()
	stale.ResourceVersion, stale.Status.Record.Status = "9", ""
	got, known, ours := w.current(stale)
	g.Expect(got.Status.Record.Status).To(Equal("running"), "a cache older than the last write is not used")
	g.Expect(known).To(BeFalse())
	g.Expect(ours).To(BeTrue(), "the copy is this controller's last write")

	deleted := gld.DeepCopy()
	deleted.ResourceVersion = "11"
	deleted.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	got, _, ours = w.current(deleted)
	g.Expect(got.DeletionTimestamp).NotTo(BeNil(), "a change made after the last write (a deletion) is seen")
	g.Expect(ours).To(BeFalse(), "someone else wrote it since")

	w.remember(gld)
	got, known, ours = w.current(gld.DeepCopy())
	g.Expect(known).To(BeTrue())
	g.Expect(ours).To(BeTrue())
	g.Expect(got.ResourceVersion).To(Equal("10"))
	_, known, ours = w.current(gld.DeepCopy())
	g.Expect(ours).To(BeTrue(), "the cache still shows this controller's last write")
	g.Expect(known).To(BeFalse(), "forgotten once the cache caught up")
	w.forget(client.ObjectKeyFromObject(gld))
	_, _, ours = w.current(gld.DeepCopy())
	g.Expect(ours).To(BeFalse(), "nothing is known of an object forgotten (after a restart, say)")
}

// Only the rollout the Deployment shows keeps its GitLab environment's
// metadata up to date: a superseded one that succeeded (its state is then
// remembered as complete) asks GitLab nothing, whatever the annotations.
func TestOnlyTheCurrentRolloutSyncsTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name       string
		superseded bool
	}{{"current", false}, {"superseded after its success", true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			withTier := func(d *appsv1.Deployment) {
				d.Annotations = map[string]string{gitlabv1alpha1.AnnotationTier: "production"}
				complete(d)
				if tc.superseded {
					d.Spec.Template.Spec.Containers[0].Image = "app:2"
				}
			}
			gld := stepRollout(stepDeployment(nil), func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusSuccess}
			})
			calls := &gitlabCalls{}
			r := stepReconciler(calls, stepDeployment(withTier), gld)
			s := runPhases(t, r, gld)
			_, err := r.reconcileEnvironment(context.Background(), s)
			g.Expect(err).NotTo(HaveOccurred())
			if tc.superseded {
				g.Expect(s.environment).To(BeNil(), "a superseded rollout leaves the environment alone")
			} else {
				// The step client answers no environment request: the phase
				// tried, and says so.
				g.Expect(s.environment).NotTo(BeNil())
			}
		})
	}
}

// The copy of a write is dropped once the cache shows it, even when no
// reconcile of the rollout follows (the last write of a rollout).
func TestWrittenCopyIsDroppedOnceTheCacheShowsIt(t *testing.T) {
	g := NewWithT(t)
	var w writtenObjects
	gld := stepRollout(stepDeployment(nil), nil)
	gld.ResourceVersion = "10"
	w.remember(gld)

	older := gld.DeepCopy()
	older.ResourceVersion = "9"
	w.caughtUp(older)
	g.Expect(w.m).To(HaveLen(1), "the cache is older than the write: the copy stands in for it")

	w.caughtUp(gld.DeepCopy())
	g.Expect(w.m).To(BeEmpty())
	got, _, ours := w.current(gld.DeepCopy())
	g.Expect(got.ResourceVersion).To(Equal("10"))
	g.Expect(ours).To(BeTrue(), "the cache's copy is still known as this controller's last write")

	w.remember(gld)
	newer := gld.DeepCopy()
	newer.ResourceVersion = "12"
	w.caughtUp(newer)
	g.Expect(w.m).To(BeEmpty(), "a later version replaces it as well")
}
