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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
)

const ns = "shop"

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

// deployment is web running template image, held by rollgate if held.
func deployment(image string, held bool) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: types.UID("web-uid"),
			Annotations: map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production",
				gitlabv1alpha1.AnnotationApproval: "source=Record"}},
		Spec: appsv1.DeploymentSpec{Template: template(image)},
	}
	if held {
		rollout.Hold(d, rollout.TemplateHash(&d.Spec.Template))
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = strings.Repeat("f", 40)
		d.Annotations[gitlabv1alpha1.AnnotationTag] = "true"
	}
	return d
}

func hashOf(image string) string {
	tpl := template(image)
	return rollout.TemplateHash(&tpl)
}

type gldOpt func(*gitlabv1alpha1.GitLabDeployment)

func rolloutOf(workload, image string, revision int, phase gitlabv1alpha1.RolloutPhase, opts ...gldOpt) *gitlabv1alpha1.GitLabDeployment {
	hash := hashOf(image)
	gld := &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workload + "-" + hash,
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(revision) * time.Minute)),
			Labels:            map[string]string{gitlabv1alpha1.LabelWorkload: workload},
			Annotations:       map[string]string{gitlabv1alpha1.AnnotationRevision: itoa(revision)}},
		Spec: gitlabv1alpha1.GitLabDeploymentSpec{WorkloadRef: gitlabv1alpha1.WorkloadReference{Name: workload},
			Project: "acme/shop", Environment: "production", Ref: "main",
			SHA: strings.Repeat(itoa(revision), 40), PodTemplateHash: hash},
		Status: gitlabv1alpha1.GitLabDeploymentStatus{Phase: phase, PodTemplateHash: hash},
	}
	for _, o := range opts {
		o(gld)
	}
	return gld
}

func itoa(n int) string { return string(rune('0' + n)) }

func withRecord(iid int64, status string) gldOpt {
	return func(g *gitlabv1alpha1.GitLabDeployment) {
		g.Status.Record = gitlabv1alpha1.GitLabRecord{ID: 100 + iid, IID: iid, Status: status,
			WebURL: "https://gitlab.example.com/acme/shop/-/environments/1/deployments/" + itoa(int(iid))}
	}
}

func awaiting(g *gitlabv1alpha1.GitLabDeployment) {
	g.Spec.Approval = &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourceRecord}
	g.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting, PendingCount: 1,
		Rules: []gitlabv1alpha1.ApprovalRuleStatus{{Name: "alice", Required: 1, Approved: 1},
			{Name: "bob", Required: 1, Pending: 1}}}
	g.Status.Conditions = []metav1.Condition{{Type: gitlabv1alpha1.ConditionApproved, Status: metav1.ConditionFalse,
		Reason: gitlabv1alpha1.ReasonAwaitingApproval, Message: "1 approval pending in production"}}
}

func approved(g *gitlabv1alpha1.GitLabDeployment) {
	g.Spec.Approval = &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourceRecord}
	g.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalApproved}
}

// replicaSet is the ReplicaSet of image's template owned by owner.
func replicaSet(image string, owner types.UID) *appsv1.ReplicaSet {
	hash := hashOf(image)
	tpl := template(image)
	tpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	yes := true
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-" + hash + "-" + string(owner),
			Labels:          map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: owner, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Template: tpl},
	}
}

func newClient(objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(operator.NewScheme()).WithObjects(objs...).Build()
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		objs   []client.Object
		output string
		want   []string
		absent []string
		err    string
	}{{
		name: "held awaiting approval",
		objs: []client.Object{deployment("v2", true),
			rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded, withRecord(1, "success"), approved),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseAwaitingApproval, withRecord(2, "running"), awaiting)},
		want: []string{"Deployment:        shop/web", "Template:          " + hashOf("v2"),
			"Held:              yes: paused by rollgate",
			"Rollout:           web-" + hashOf("v2") + " (revision 2)",
			"Phase:             AwaitingApproval",
			"Record:            #2 running https://gitlab.example.com/acme/shop/-/environments/1/deployments/2",
			"Approval:          Awaiting (1 approval pending), source Record",
			"Approved:          False AwaitingApproval: 1 approval pending in production",
			"Approvers act at:  https://gitlab.example.com/acme/shop/-/environments/1/deployments/2",
			"RULE   REQUIRED  APPROVED  PENDING", "alice  1         1         0", "bob    1         0         1"},
	}, {
		name:   "running, not gated",
		objs:   []client.Object{deployment("v1", false), rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded, withRecord(1, "success"))},
		want:   []string{"Held:              no", "Phase:             Succeeded", "Record:            #1 success", "Approval:          not gated"},
		absent: []string{"RULE"},
	}, {
		name: "bypassed",
		objs: []client.Object{deployment("v2", false), rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseSucceeded, withRecord(2, "success"),
			func(g *gitlabv1alpha1.GitLabDeployment) {
				awaiting(g)
				g.Status.Approval.State = gitlabv1alpha1.ApprovalBypassed
				g.Status.Approval.Bypass = &gitlabv1alpha1.ApprovalBypass{User: "olive", Reason: "incident 4711"}
			})},
		want:   []string{"Approval:          Bypassed, source Record", "Bypassed by:       olive: incident 4711", "bob    1         0         1"},
		absent: []string{"pending)", "Approvers act at"},
	}, {
		name:   "no rollout of the current template yet",
		objs:   []client.Object{deployment("v3", true), rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded)},
		want:   []string{"Rollout:           none yet for this template"},
		absent: []string{"web-" + hashOf("v1")},
	}, {
		name: "approval on the pipeline's deployment, no record yet",
		objs: []client.Object{deployment("v2", true), rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseAwaitingApproval,
			func(g *gitlabv1alpha1.GitLabDeployment) {
				awaiting(g)
				g.Spec.Approval.Source = gitlabv1alpha1.ApprovalSourcePipeline
				g.Status.Approval.DeploymentID = 77
			})},
		want: []string{"Record:            not yet created",
			"Approvers act at:  project acme/shop > Operate > Environments > production, deployment ID 77"},
	}, {
		name:   "json",
		objs:   []client.Object{deployment("v2", true), rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseAwaitingApproval, withRecord(2, "running"), awaiting)},
		output: "json",
		want:   []string{`"held": true`, `"phase": "AwaitingApproval"`, `"pending": 1`},
	}, {
		name: "not found",
		err:  "deployment web not found in namespace shop",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var out bytes.Buffer
			err := Status(context.Background(), newClient(tc.objs...), ns, "web", tc.output, &out)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			for _, w := range tc.want {
				g.Expect(squeeze(out.String())).To(ContainSubstring(squeeze(w)))
			}
			for _, a := range tc.absent {
				g.Expect(out.String()).NotTo(ContainSubstring(a))
			}
			if tc.output == "json" {
				var v map[string]any
				g.Expect(json.Unmarshal(out.Bytes(), &v)).To(Succeed())
			}
		})
	}
}

// squeeze collapses the runs of spaces of tabwriter's alignment.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestHistory(t *testing.T) {
	now = func() time.Time { return t0.Add(time.Hour) }
	t.Cleanup(func() { now = time.Now })
	// Revision 3 was created before revision 2: revisions order, not time.
	r3 := rolloutOf("web", "v3", 3, gitlabv1alpha1.PhaseAwaitingApproval, withRecord(3, "running"), awaiting)
	r3.CreationTimestamp = metav1.NewTime(t0)
	other := rolloutOf("webby", "v1", 1, gitlabv1alpha1.PhaseSucceeded)
	sameLabel := rolloutOf("web", "v9", 1, gitlabv1alpha1.PhaseSucceeded)
	sameLabel.Name, sameLabel.Spec.WorkloadRef.Name = "web-other", "web-with-a-longer-name"
	tests := []struct {
		name   string
		objs   []client.Object
		output string
		want   []string
	}{{
		name: "oldest first, current marked",
		objs: []client.Object{deployment("v3", true), r3, other, sameLabel,
			rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded, withRecord(1, "success"), approved),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseCanceled, withRecord(2, "canceled"),
				func(g *gitlabv1alpha1.GitLabDeployment) {
					approved(g)
					g.Status.Approval.State = gitlabv1alpha1.ApprovalRejected
				})},
		want: []string{
			"NAME              REVISION  SHA       PHASE             RECORD       APPROVAL  AGE",
			"web-" + hashOf("v1") + "    1         11111111  Succeeded         #1 success   Approved  59m",
			"web-" + hashOf("v2") + "    2         22222222  Canceled          #2 canceled  Rejected  58m",
			"web-" + hashOf("v3") + " *  3         33333333  AwaitingApproval  #3 running   Awaiting  60m",
			"* the Deployment's current template",
		},
	}, {
		name: "none",
		objs: []client.Object{deployment("v1", false), other},
		want: []string{"No rollouts recorded for deployment shop/web."},
	}, {
		name:   "json",
		objs:   []client.Object{deployment("v1", false), rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded)},
		output: "json",
		want:   []string{`"revision": 1`, `"current": true`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var out bytes.Buffer
			g.Expect(History(context.Background(), newClient(tc.objs...), ns, "web", tc.output, &out)).To(Succeed())
			if tc.output == "" {
				lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
				trimmed := make([]string, 0, len(lines))
				for _, l := range lines {
					trimmed = append(trimmed, strings.TrimRight(l, " "))
				}
				g.Expect(trimmed).To(Equal(tc.want))
				return
			}
			for _, w := range tc.want {
				g.Expect(out.String()).To(ContainSubstring(w))
			}
		})
	}
}

func TestBypass(t *testing.T) {
	notOptedIn := deployment("v1", false)
	notOptedIn.Annotations = nil
	tests := []struct {
		name   string
		deploy *appsv1.Deployment
		reason string
		want   string
		err    string
	}{
		{name: "held", deploy: deployment("v2", true), reason: " hotfix INC-42 ", want: "rollgate releases the held template " + hashOf("v2")},
		{name: "not held", deploy: deployment("v2", false), reason: "hotfix", want: "The Deployment is not held"},
		{name: "empty reason", deploy: deployment("v2", true), reason: "  ", err: "--reason is required"},
		{name: "not opted in", deploy: notOptedIn, reason: "hotfix", err: "not recorded by rollgate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			k := newClient(tc.deploy)
			var out bytes.Buffer
			err := Bypass(context.Background(), k, ns, "web", tc.reason, &out)
			got := &appsv1.Deployment{}
			g.Expect(k.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, got)).To(Succeed())
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				g.Expect(got.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.String()).To(ContainSubstring(tc.want))
			g.Expect(got.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationApprovalBypass, strings.TrimSpace(tc.reason)))
			g.Expect(got.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationEnvironment, "production"), "other annotations kept")
		})
	}
}

func TestAbort(t *testing.T) {
	succeeded1 := rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded, withRecord(1, "success"), approved)
	tests := []struct {
		name    string
		objs    []client.Object
		restore string // the image restored, empty for no change
		// restoreRevision is the digit of the restored rollout's commit.
		restoreRevision string
		err             string
	}{{
		name: "held: back to the last success",
		objs: []client.Object{deployment("v3", true), succeeded1, replicaSet("v1", "web-uid"),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseSucceeded, withRecord(2, "success"), approved), replicaSet("v2", "web-uid"),
			rolloutOf("web", "v3", 3, gitlabv1alpha1.PhaseAwaitingApproval, withRecord(3, "running"), awaiting)},
		restore: "v2", restoreRevision: "2",
	}, {
		name: "skips failed and canceled rollouts",
		objs: []client.Object{deployment("v4", true), succeeded1, replicaSet("v1", "web-uid"),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseFailed, withRecord(2, "failed")), replicaSet("v2", "web-uid"),
			rolloutOf("web", "v3", 3, gitlabv1alpha1.PhaseCanceled, withRecord(3, "canceled")),
			rolloutOf("web", "v4", 4, gitlabv1alpha1.PhaseAwaitingApproval, awaiting)},
		restore: "v1", restoreRevision: "1",
	}, {
		name: "record success counts when the phase is not set",
		objs: []client.Object{deployment("v2", true), rolloutOf("web", "v1", 1, "", withRecord(1, "success")),
			replicaSet("v1", "web-uid"), rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseAwaitingApproval, awaiting)},
		restore: "v1", restoreRevision: "1",
	}, {
		name: "not held",
		objs: []client.Object{deployment("v2", false), succeeded1, replicaSet("v1", "web-uid")},
		err:  "is not held by rollgate",
	}, {
		name: "first rollout",
		objs: []client.Object{deployment("v1", true), rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseAwaitingApproval, awaiting)},
		err:  "nothing to go back to: deployment shop/web has no earlier rollout that succeeded",
	}, {
		name: "a later success does not count",
		objs: []client.Object{deployment("v1", true), rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseAwaitingApproval, awaiting),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseSucceeded), replicaSet("v2", "web-uid")},
		err: "nothing to go back to",
	}, {
		name: "ReplicaSet gone or another Deployment's",
		objs: []client.Object{deployment("v2", true), succeeded1, replicaSet("v1", "other-uid"),
			rolloutOf("web", "v2", 2, gitlabv1alpha1.PhaseAwaitingApproval, awaiting)},
		err: "ReplicaSets of the earlier successful rollouts (web-" + hashOf("v1") + ") are gone",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			k := newClient(tc.objs...)
			before := &appsv1.Deployment{}
			g.Expect(k.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, before)).To(Succeed())
			var out bytes.Buffer
			err := Abort(context.Background(), k, ns, "web", &out)
			got := &appsv1.Deployment{}
			g.Expect(k.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, got)).To(Succeed())
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				g.Expect(got.Spec.Template).To(Equal(before.Spec.Template))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Spec.Template).To(Equal(template(tc.restore)), "the ReplicaSet's template without pod-template-hash")
			g.Expect(rollout.TemplateHash(&got.Spec.Template)).To(Equal(hashOf(tc.restore)))
			g.Expect(out.String()).To(ContainSubstring("replaced by " + hashOf(tc.restore)))
			g.Expect(got.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationSHA, strings.Repeat(tc.restoreRevision, 40)),
				"the commit annotation of the restored rollout")
			g.Expect(got.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationRef, "main"))
			g.Expect(got.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationTag))
		})
	}
}

// The template is replaced only if the Deployment is as it was read.
func TestAbortOptimisticLock(t *testing.T) {
	g := NewWithT(t)
	base := newClient(deployment("v2", true),
		rolloutOf("web", "v1", 1, gitlabv1alpha1.PhaseSucceeded, withRecord(1, "success")), replicaSet("v1", "web-uid"))
	k := racing{Client: base}
	err := Abort(context.Background(), k, ns, "web", &bytes.Buffer{})
	g.Expect(err).To(MatchError(ContainSubstring("changed meanwhile; run abort again")))
	got := &appsv1.Deployment{}
	g.Expect(base.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, got)).To(Succeed())
	g.Expect(got.Spec.Template.Spec.Containers[0].Image).To(Equal("v2"))
}

// racing changes the Deployment just before each patch.
type racing struct{ client.Client }

func (r racing) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(obj), d); err != nil {
		return err
	}
	d.Labels = map[string]string{"touched": "yes"}
	if err := r.Update(ctx, d); err != nil {
		return err
	}
	return r.Client.Patch(ctx, obj, patch, opts...)
}
