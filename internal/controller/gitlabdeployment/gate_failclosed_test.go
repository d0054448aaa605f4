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
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/internal/testenv"
)

// heldWith waits until the Deployment's rollout is held with the given
// reason of its Approved condition.
func heldWith(t *testing.T, d *appsv1.Deployment, reason string) *gitlabv1alpha1.GitLabDeployment {
	t.Helper()
	var gld *gitlabv1alpha1.GitLabDeployment
	NewWithT(t).Eventually(func(g Gomega) {
		gld = rolloutOf(g, d)
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved)).NotTo(BeNil(), describe(gld))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved).Reason).To(Equal(reason), describe(gld))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue())
	}).WithTimeout(gateWait).Should(Succeed())
	return gld
}

// A GitLab that computes approvals only for CI jobs reports none for
// rollgate's record: a pending count of 0 is not an approval.
func TestGateRecordSourceStaysHeldWhenGitLabComputesNoApprovals(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLabServer(t, ns, []gitlabtest.Option{gitlabtest.WithJobApprovalsOnly()})
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})

	gld := heldWith(t, d, gitlabv1alpha1.ReasonApprovalRulesNotFound)
	g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalAwaiting))
	g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved).Message).To(ContainSubstring(gitlabv1alpha1.AnnotationApprovalBypass))
	g.Eventually(func(g Gomega) []string { return warnings(g, ns, gld.Name) }).Should(ContainElement(gitlabv1alpha1.ReasonApprovalRulesNotFound))
}

// An environment without approval rules never releases a gated rollout.
func TestGateRecordSourceStaysHeldWithoutApprovalRules(t *testing.T) {
	ns := newNamespace(t)
	newGitLab(t, ns)
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	heldWith(t, d, gitlabv1alpha1.ReasonApprovalRulesNotFound)
}

// asUser is a client that acts as the named user (a cluster admin).
func asUser(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(testenv.Get(t).Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: operator.NewScheme()})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

// bypassNotes lists the notes of the ApprovalBypassed Events in ns.
func bypassNotes(g Gomega, ns string) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Reason == "ApprovalBypassed" {
			out = append(out, e.Note)
		}
	}
	return out
}

// kubectl annotate ... approval-bypass="incident 4711: hotfix", as a user:
// the Event and the status name that user, and nobody can claim another.
func TestGateBypassNamesTheUserWhoSetIt(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	awaiting(t, d)

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident 4711: hotfix"
		// A claim of another name is overwritten by the webhook.
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = "mallory"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalBypassed), describe(gld))
		g.Expect(gld.Status.Approval.Bypass).To(Equal(&gitlabv1alpha1.ApprovalBypass{User: "olive-oncall", Reason: "incident 4711: hotfix"}))
		g.Expect(bypassNotes(g, ns)).To(ContainElement(ContainSubstring("bypassed by olive-oncall: incident 4711: hotfix")))
		g.Expect(strings.Join(bypassNotes(g, ns), "\n")).NotTo(ContainSubstring("mallory"))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
	}).WithTimeout(gateWait).Should(Succeed())
}

// A bypass that came with a template that completed before rollgate looked
// at it is recorded and spent: the next template is held again.
func TestGateBypassIsSpentOnce(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	awaiting(t, d)

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Spec.Replicas = ptr.To[int32](0)
		cur.Spec.Template.Spec.Containers[0].Image = "app:hotfix"
		cur.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf("app:hotfix")
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident 4712"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	cur := getDeployment(g, d)
	g.Expect(cur.Spec.Paused).To(BeFalse(), "the bypass released the new template at once")
	hotfix := rollout.TemplateHash(&cur.Spec.Template)
	setStatus(t, d, func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation}
	})
	g.Eventually(func(g Gomega) {
		gld := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rollout.Name("web", hotfix, 0)}, gld)).To(Succeed())
		g.Expect(gld.Status.Approval).NotTo(BeNil(), describe(gld))
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalBypassed), describe(gld))
		g.Expect(gld.Status.Approval.Bypass.User).To(Equal("olive-oncall"))
		g.Expect(bypassNotes(g, ns)).To(ContainElement(ContainSubstring("incident 4712")))
		cur := getDeployment(g, d)
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypassedBy))
	}).WithTimeout(gateWait).Should(Succeed())

	changeTemplate(t, d, "app:next")
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue(), "the next template is held: the bypass was spent")
}
