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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/rollout"
)

// Step-level tests of the gate phase and of the shipped phase, on
// controller-runtime's fake client and the fake GitLab client: no control
// plane.

// stepDeployUID is the UID of the step Deployment, which owns its ReplicaSets.
const stepDeployUID = "deploy-uid"

// gateGitLab answers the gate's questions as GitLab would, and counts them.
type gateGitLab struct {
	gitlabCalls
	// answer is the deployment carrying the approvals, as GetDeployment
	// returns it; nil fails the call.
	answer *gitlab.Deployment
	// gets are the IDs GetDeployment was asked for.
	gets []int64
	// mergeRequests is ListDeploymentMergeRequests' answer; mrReads counts
	// the calls.
	mergeRequests *gitlab.MergeRequestList
	mrReads       int
}

func (f *gateGitLab) client() *gitlab.FakeClient {
	c := f.gitlabCalls.client()
	if f.answer != nil {
		c.GetDeploymentFunc = func(_ context.Context, _ string, id int64) (*gitlab.Deployment, error) {
			f.gets = append(f.gets, id)
			d := *f.answer
			d.ID = id
			return &d, nil
		}
	}
	if f.mergeRequests != nil {
		c.ListDeploymentMergeRequestsFunc = func(context.Context, string, int64, int) (*gitlab.MergeRequestList, error) {
			f.mrReads++
			return f.mergeRequests, nil
		}
	}
	return c
}

// gateReconciler is stepReconciler with the GitLab client of f and an
// Event recorder.
func gateReconciler(f *gateGitLab, objs ...client.Object) (*Reconciler, *events.FakeRecorder) {
	r := stepReconciler(&f.gitlabCalls, objs...)
	r.GitLab = gitlab.ClientProviderFunc(func(gitlab.Credentials) (gitlab.Client, error) { return f.client(), nil })
	rec := events.NewFakeRecorder(100)
	r.Recorder = rec
	return r, rec
}

// reasons drains the recorder and returns the reasons of its Events.
func reasons(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			if f := strings.Fields(e); len(f) > 1 {
				out = append(out, f[1])
			}
		default:
			return out
		}
	}
}

// reconcileSteps runs phases on gld as stored, then the deferred summary
// and status write, as Reconcile does.
func reconcileSteps(t *testing.T, r *Reconciler, gld *gitlabv1alpha1.GitLabDeployment, now time.Time,
	phases func(*Reconciler) []phase) (*scope, ctrl.Result) {
	t.Helper()
	g := NewWithT(t)
	stored := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(gld), stored)).To(Succeed())
	s := newScope(stored, now)
	res, err := r.doReconcile(context.Background(), s, phases(r))
	g.Expect(r.finalizeStatus(context.Background(), s, &res, err)).To(Succeed())
	return s, res
}

func gatePhases(r *Reconciler) []phase {
	return []phase{r.reconcileValidation, r.reconcileObservation, r.reconcileGate, r.reconcileRecord}
}

// withImage gives the step Deployment another template.
func withImage(image string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// gatedDeployment is the step Deployment running app:1, held by rollgate
// unless unheld; mutate changes it further.
func gatedDeployment(held bool, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	return stepDeployment(func(d *appsv1.Deployment) {
		d.UID = stepDeployUID
		if mutate != nil {
			mutate(d)
		}
		if held {
			rollout.Hold(d, rollout.CurrentHash(d))
		}
	})
}

// gatedRollout is the second rollout of the Deployment (app:1), gated on
// the approvals of its own record; mutate changes it further.
func gatedRollout(mutate func(*gitlabv1alpha1.GitLabDeployment)) *gitlabv1alpha1.GitLabDeployment {
	return stepRollout(stepDeployment(nil), func(gld *gitlabv1alpha1.GitLabDeployment) {
		gld.Name, gld.UID = "web-2", "uid-2"
		gld.Annotations[gitlabv1alpha1.AnnotationRevision] = "2"
		gld.Spec.Approval = &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourceRecord}
		if mutate != nil {
			mutate(gld)
		}
	})
}

// earlierRollout is the Deployment's first rollout, of image, which
// succeeded; mutate changes it further.
func earlierRollout(image string, mutate func(*gitlabv1alpha1.GitLabDeployment)) *gitlabv1alpha1.GitLabDeployment {
	return stepRollout(stepDeployment(withImage(image)), func(gld *gitlabv1alpha1.GitLabDeployment) {
		gld.Name, gld.UID = "web-1", "uid-1"
		gld.Status.Phase = gitlabv1alpha1.PhaseSucceeded
		gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 90, IID: 6, Status: gitlab.StatusSuccess}
		if mutate != nil {
			mutate(gld)
		}
	})
}

// approvedTemplate is app:0, the template of the earlier rollout.
func approvedTemplate() corev1.PodTemplateSpec {
	return stepDeployment(withImage("app:0")).Spec.Template
}

// earlierReplicaSet is the Deployment's ReplicaSet of app:0, as the
// Deployment controller labels it.
func earlierReplicaSet() *appsv1.ReplicaSet {
	template := approvedTemplate()
	hash := rollout.TemplateHash(&template)
	template.Labels = map[string]string{"app": "web", podTemplateHashLabel: hash}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: stepNS, Name: "web-" + hash, Labels: template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web",
				UID: stepDeployUID, Controller: new(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: template.Labels}, Template: template},
	}
}

// GitLab's answers about the record's approvals.
func pendingApproval() *gitlab.Deployment {
	return &gitlab.Deployment{IID: 7, Status: gitlab.StatusRunning, Environment: "staging", PendingApprovalCount: 1,
		Rules: []gitlab.ApprovalRule{{ID: 1, Name: "Maintainers", RequiredApprovals: 1}}}
}

func givenApproval(status, comment string) *gitlab.Deployment {
	a := gitlab.Approval{User: "alice", Status: status, Comment: comment}
	return &gitlab.Deployment{IID: 7, Status: gitlab.StatusRunning, Environment: "staging", Approvals: []gitlab.Approval{a},
		Rules: []gitlab.ApprovalRule{{ID: 1, Name: "Maintainers", RequiredApprovals: 1, Approvals: []gitlab.Approval{a}}}}
}

// What a user sees after one reconcile of a gated rollout.
type gateOutcome struct {
	// paused and image are the Deployment's.
	paused bool
	image  string
	// restored is the Deployment's restored-template annotation: the hash
	// of app:0 when set.
	restored bool
	// target is the state the record followed; phase the rollout's.
	target rollout.State
	phase  gitlabv1alpha1.RolloutPhase
	// approval is the approval's state; approved and reason the Approved
	// condition's.
	approval gitlabv1alpha1.ApprovalState
	approved metav1.ConditionStatus
	reason   string
	// posts, puts and gets are the GitLab calls made.
	posts, puts []string
	gets        int
	// events are reasons of Events that must have been emitted.
	events []string
	// polls: the reconcile asks to look at GitLab again.
	polls bool
}

type gateCase struct {
	name    string
	deploy  *appsv1.Deployment
	gld     *gitlabv1alpha1.GitLabDeployment
	history []client.Object
	answer  *gitlab.Deployment
	want    gateOutcome
}

func gateCases(now time.Time) []gateCase {
	requested := metav1.NewTime(now.Add(-2 * time.Minute))
	awaiting := func(gld *gitlabv1alpha1.GitLabDeployment) {
		gld.Spec.Approval.Timeout = &metav1.Duration{Duration: time.Minute}
		gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting, RequestedAt: &requested}
		gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusRunning}
	}
	bypassed := func(d *appsv1.Deployment) {
		d.Annotations = map[string]string{gitlabv1alpha1.AnnotationApprovalBypass: "hotfix for the outage",
			gitlabv1alpha1.AnnotationApprovalBypassedBy: "alice"}
	}
	restoredFrom := []client.Object{earlierRollout("app:0", nil), earlierReplicaSet()}
	return []gateCase{{
		name: "awaiting approval: stays held, the record is made for approvers", answer: pendingApproval(),
		deploy: gatedDeployment(true, nil), gld: gatedRollout(nil),
		want: gateOutcome{paused: true, image: "app:1", target: rollout.StateHeld, phase: gitlabv1alpha1.PhaseAwaitingApproval,
			approval: gitlabv1alpha1.ApprovalAwaiting, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonAwaitingApproval,
			posts: []string{gitlab.StatusRunning}, gets: 1, events: []string{gitlabv1alpha1.ReasonAwaitingApproval}, polls: true},
	}, {
		name: "approved: released", answer: givenApproval(gitlab.ApprovalApproved, ""),
		deploy: gatedDeployment(true, nil), gld: gatedRollout(nil),
		want: gateOutcome{image: "app:1", target: rollout.StateProgressing, phase: gitlabv1alpha1.PhaseProgressing,
			approval: gitlabv1alpha1.ApprovalApproved, approved: metav1.ConditionTrue, reason: gitlabv1alpha1.ReasonApproved,
			posts: []string{gitlab.StatusRunning}, gets: 1, events: []string{"ApprovalGiven", gitlabv1alpha1.ReasonApproved, "RolloutReleased"}},
	}, {
		name: "rejected: the last approved template is restored, the record canceled", answer: givenApproval(gitlab.ApprovalRejected, "not today"),
		deploy: gatedDeployment(true, nil), gld: gatedRollout(nil), history: restoredFrom,
		want: gateOutcome{image: "app:0", restored: true, target: rollout.StateSuperseded, phase: gitlabv1alpha1.PhaseCanceled,
			approval: gitlabv1alpha1.ApprovalRejected, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonRejected,
			posts: []string{gitlab.StatusRunning}, puts: []string{gitlab.StatusCanceled}, gets: 1,
			events: []string{"ApprovalRejected", gitlabv1alpha1.ReasonRejected, "RolloutRestored"}},
	}, {
		name: "rejected, nothing to restore: stays paused", answer: givenApproval(gitlab.ApprovalRejected, ""),
		deploy: gatedDeployment(true, nil), gld: gatedRollout(nil),
		want: gateOutcome{paused: true, image: "app:1", target: rollout.StateSuperseded, phase: gitlabv1alpha1.PhaseCanceled,
			approval: gitlabv1alpha1.ApprovalRejected, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonRejectedTemplateHeld,
			posts: []string{gitlab.StatusRunning}, puts: []string{gitlab.StatusCanceled}, gets: 1,
			events: []string{gitlabv1alpha1.ReasonRejected, "NothingToRestore"}},
	}, {
		name:   "bypass: released without asking GitLab for approvals, and recorded",
		deploy: gatedDeployment(true, bypassed), gld: gatedRollout(nil),
		want: gateOutcome{image: "app:1", target: rollout.StateProgressing, phase: gitlabv1alpha1.PhaseProgressing,
			approval: gitlabv1alpha1.ApprovalBypassed, approved: metav1.ConditionTrue, reason: gitlabv1alpha1.ReasonBypassed,
			posts: []string{gitlab.StatusRunning}, events: []string{"ApprovalBypassed"}},
	}, {
		name:   "approval timed out: restored without asking GitLab, the record canceled",
		deploy: gatedDeployment(true, nil), gld: gatedRollout(awaiting), history: restoredFrom,
		want: gateOutcome{image: "app:0", restored: true, target: rollout.StateSuperseded, phase: gitlabv1alpha1.PhaseCanceled,
			approval: gitlabv1alpha1.ApprovalTimedOut, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonTimedOut,
			puts: []string{gitlab.StatusCanceled}, events: []string{gitlabv1alpha1.ReasonTimedOut, "RolloutRestored"}},
	}, {
		name: "started without the webhook: held late", answer: pendingApproval(),
		deploy: gatedDeployment(false, nil), gld: gatedRollout(nil),
		want: gateOutcome{paused: true, image: "app:1", target: rollout.StateHeld, phase: gitlabv1alpha1.PhaseAwaitingApproval,
			approval: gitlabv1alpha1.ApprovalAwaiting, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonAwaitingApproval,
			posts: []string{gitlab.StatusRunning}, gets: 1, events: []string{gitlabv1alpha1.ReasonHeldLate}, polls: true},
	}, {
		name:   "a template approved before: released at once",
		deploy: gatedDeployment(true, nil), gld: gatedRollout(nil),
		history: []client.Object{earlierRollout("app:1", func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalApproved}
		})},
		want: gateOutcome{image: "app:1", target: rollout.StateProgressing, phase: gitlabv1alpha1.PhaseProgressing,
			approval: gitlabv1alpha1.ApprovalApproved, approved: metav1.ConditionTrue, reason: gitlabv1alpha1.ReasonPreviouslyApproved,
			posts: []string{gitlab.StatusRunning}, events: []string{"RolloutReleased"}},
	}, {
		name:   "a rejected template applied again: stays held, GitLab is not asked",
		deploy: gatedDeployment(true, nil), gld: gatedRollout(func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalRejected, RequestedAt: &requested}
			gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusCanceled}
		}),
		want: gateOutcome{paused: true, image: "app:1", target: rollout.StateSuperseded, phase: gitlabv1alpha1.PhaseCanceled,
			approval: gitlabv1alpha1.ApprovalRejected, approved: metav1.ConditionFalse, reason: gitlabv1alpha1.ReasonRejectedTemplateHeld,
			events: []string{gitlabv1alpha1.ReasonRejectedTemplateHeld}},
	}}
}

func TestGatePhaseHoldsReleasesAndRestores(t *testing.T) {
	now := time.Now()
	for _, tc := range gateCases(now) {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := &gateGitLab{answer: tc.answer}
			r, rec := gateReconciler(f, append([]client.Object{tc.deploy, tc.gld}, tc.history...)...)
			s, res := reconcileSteps(t, r, tc.gld, now, gatePhases)
			want := tc.want

			deploy := &appsv1.Deployment{}
			g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(tc.deploy), deploy)).To(Succeed())
			g.Expect(deploy.Spec.Paused).To(Equal(want.paused), "paused")
			g.Expect(rollout.Held(deploy)).To(Equal(want.paused), "held by rollgate")
			g.Expect(deploy.Spec.Template.Spec.Containers[0].Image).To(Equal(want.image))
			if want.restored {
				template := approvedTemplate()
				g.Expect(deploy.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationRestoredTemplate, rollout.TemplateHash(&template)))
				g.Expect(deploy.Spec.Template.Labels).NotTo(HaveKey(podTemplateHashLabel))
			} else {
				g.Expect(deploy.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationRestoredTemplate))
			}
			g.Expect(deploy.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass), "a bypass is spent")

			g.Expect(s.target).To(Equal(want.target))
			stored := &gitlabv1alpha1.GitLabDeployment{}
			g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(tc.gld), stored)).To(Succeed())
			g.Expect(stored.Status.Phase).To(Equal(want.phase))
			g.Expect(stored.Status.Approval).NotTo(BeNil())
			g.Expect(stored.Status.Approval.State).To(Equal(want.approval))
			approved := findCondition(stored, gitlabv1alpha1.ConditionApproved)
			g.Expect(approved).NotTo(BeNil())
			g.Expect(approved.Status).To(Equal(want.approved))
			g.Expect(approved.Reason).To(Equal(want.reason))

			g.Expect(f.posts).To(Equal(want.posts), "POSTs")
			g.Expect(f.puts).To(Equal(want.puts), "PUTs")
			g.Expect(f.gets).To(HaveLen(want.gets), "approval reads")
			g.Expect(reasons(rec)).To(ContainElements(want.events))
			g.Expect(res.RequeueAfter > 0).To(Equal(want.polls), "polls GitLab again")
		})
	}
}

// A bypass names who set it, as the admission webhook signed it, and why,
// in the status.
func TestGatePhaseRecordsTheBypass(t *testing.T) {
	g := NewWithT(t)
	keys := &bypass.Keys{}
	d := gatedDeployment(true, func(d *appsv1.Deployment) {
		signed, err := keys.Sign(context.Background(), d, rollout.TemplateHash(&d.Spec.Template), "hotfix", "alice")
		g.Expect(err).NotTo(HaveOccurred())
		d.Annotations = map[string]string{gitlabv1alpha1.AnnotationApprovalBypass: "hotfix", gitlabv1alpha1.AnnotationApprovalBypassedBy: signed}
	})
	gld := gatedRollout(nil)
	r, _ := gateReconciler(&gateGitLab{}, d, gld)
	r.BypassKeys = keys
	reconcileSteps(t, r, gld, time.Now(), gatePhases)
	stored := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(gld), stored)).To(Succeed())
	g.Expect(stored.Status.Approval.Bypass).To(Equal(&gitlabv1alpha1.ApprovalBypass{User: "alice", Reason: "hotfix"}))
	g.Expect(stored.Status.Approval.DecidedAt).NotTo(BeNil())
	live := &appsv1.Deployment{}
	g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(d), live)).To(Succeed())
	g.Expect(live.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypassedBy))
}

// The shipped phase reads the record's merge requests once, after the
// record succeeded: not while it runs, and not again.
func TestShippedPhaseReadsTheMergeRequestsOnceAfterSuccess(t *testing.T) {
	for _, tc := range []struct {
		name      string
		list      *gitlab.MergeRequestList
		wantCount int32
		wantEvent bool
	}{
		{name: "one merge request", wantCount: 1, wantEvent: true, list: &gitlab.MergeRequestList{Total: 1, TotalExact: true,
			Items: []gitlab.MergeRequest{{IID: 12, Title: "Fix login", WebURL: "https://gitlab.example.com/group/app/-/merge_requests/12"}}}},
		{name: "none", list: &gitlab.MergeRequestList{TotalExact: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			d := stepDeployment(nil)
			gld := stepRollout(d, func(gld *gitlabv1alpha1.GitLabDeployment) {
				gld.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100, IID: 7, Status: gitlab.StatusRunning}
			})
			f := &gateGitLab{mergeRequests: tc.list}
			r, rec := gateReconciler(f, d, gld)
			phases := func(r *Reconciler) []phase {
				return []phase{r.reconcileValidation, r.reconcileObservation, r.reconcileGate, r.reconcileRecord, r.reconcileShipped}
			}

			reconcileSteps(t, r, gld, time.Now(), phases)
			g.Expect(f.mrReads).To(BeZero(), "not read while the record runs")

			live := &appsv1.Deployment{}
			g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(d), live)).To(Succeed())
			complete(live)
			g.Expect(r.Status().Update(context.Background(), live)).To(Succeed())
			reconcileSteps(t, r, gld, time.Now(), phases)
			g.Expect(f.puts).To(Equal([]string{gitlab.StatusSuccess}))
			g.Expect(f.mrReads).To(Equal(1), "read once the record succeeded")
			stored := &gitlabv1alpha1.GitLabDeployment{}
			g.Expect(r.Get(context.Background(), client.ObjectKeyFromObject(gld), stored)).To(Succeed())
			g.Expect(stored.Status.Shipped).NotTo(BeNil())
			g.Expect(stored.Status.Shipped.Count).To(Equal(tc.wantCount))
			g.Expect(stored.Status.Shipped.MergeRequests).To(HaveLen(len(tc.list.Items)))
			if tc.wantEvent {
				g.Expect(reasons(rec)).To(ContainElement("Shipped"))
			} else {
				g.Expect(reasons(rec)).NotTo(ContainElement("Shipped"))
			}

			reconcileSteps(t, r, gld, time.Now(), phases)
			g.Expect(f.mrReads).To(Equal(1), "not read twice")
		})
	}
}
