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
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/internal/testenv"
)

// heldFor is how long a test watches that a held template stays held.
const heldFor = 5 * time.Second

// unheldClient writes as rollgate's own user, whose writes the admission
// webhooks let through: as if they were not called.
func unheldClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(testenv.Get(t).RollgateConfig, client.Options{Scheme: operator.NewScheme()})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

// A bypass set on a rollout that is already approved has nothing to
// release: rollgate removes it, and it does not release the next template.
func TestGateBypassLeftOnAnApprovedRolloutDoesNotReleaseTheNextTemplate(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	gld := awaiting(t, d)
	f.decide(t, "alice", gld.Status.Record.ID, "approved", "")
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, d).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalApproved))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
	}).WithTimeout(gateWait).Should(Succeed())

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "pre-staged"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		cur := getDeployment(g, d)
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypassedBy))
		g.Expect(eventsAbout(g, ns, "web")).To(ContainElement("BypassIgnored"))
	}).WithTimeout(gateWait).Should(Succeed())

	changeTemplate(t, d, "app:next")
	g.Consistently(func(g Gomega) {
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue(), "the next template is held")
	}).WithTimeout(heldFor).Should(Succeed())
	g.Expect(bypassNotes(g, ns)).To(BeEmpty())
	g.Expect(rolloutOf(g, d).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalAwaiting))
}

// A name written into bypassed-by while the webhooks were not called (the
// Deployment was not gated yet) names nobody: the bypass, left from an
// earlier template, is removed, and the new template is held.
func TestGateBypassedByWrittenBeforeTheGateNamesNobody(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", nil)
	setStatus(t, d, completed)

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "forged"
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = "mallory"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Expect(getDeployment(g, d).Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationApprovalBypassedBy, "mallory"),
		"an ungated Deployment does not reach the webhooks")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
		cur.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf("app:evil")
		cur.Spec.Template.Spec.Containers[0].Image = "app:evil"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	cur := getDeployment(g, d)
	g.Expect(cur.Spec.Paused).To(BeTrue(), "held: the bypass was left from the earlier template")
	g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
	g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypassedBy))
	awaiting(t, d)
	g.Expect(bypassNotes(g, ns)).To(BeEmpty())
}

// With the webhooks not called at all, a bypass still releases (break
// glass), but a name written by the user is not rollgate's signature: the
// bypass is recorded as by an unknown user.
func TestGateUnsignedBypassedByIsRecordedAsAnUnknownUser(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	awaiting(t, d)

	unheld := unheldClient(t)
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident 4713"
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = "alice sig=v1.5f96db449b.AAAA"
		return unheld.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalBypassed), describe(gld))
		g.Expect(gld.Status.Approval.Bypass).To(Equal(&gitlabv1alpha1.ApprovalBypass{User: "an unknown user", Reason: "incident 4713"}))
		g.Expect(bypassNotes(g, ns)).To(ContainElement(ContainSubstring("bypassed by an unknown user: incident 4713")))
		g.Expect(strings.Join(bypassNotes(g, ns), "\n")).NotTo(ContainSubstring("alice"))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
	}).WithTimeout(gateWait).Should(Succeed())
}

// Removing the gate and rollgate's hold marker from a held Deployment, to
// unpause it in a second update, releases nothing: the marker stays and the
// unpause is refused.
func TestGateHeldRolloutIsNotReleasedInTwoSteps(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	gld := awaiting(t, d)

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		delete(cur.Annotations, gitlabv1alpha1.AnnotationApproval)
		delete(cur.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	cur := getDeployment(g, d)
	g.Expect(cur.Spec.Paused).To(BeTrue())
	g.Expect(cur.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationHeldTemplate, gld.Status.PodTemplateHash), "the hold marker stays")

	cur.Spec.Paused = false
	err := olive.Update(context.Background(), cur)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "unpausing in a second update: %v", err)
	g.Expect(rolloutOf(g, d).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalAwaiting))
}

// A new template that rolled out without the webhook (down, or not
// installed) is paused by the controller, reported as HeldLate, and
// released by GitLab's approval.
func TestGateHoldsLateATemplateThatRolledOutPastTheWebhook(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	gld := awaiting(t, d)
	f.decide(t, "alice", gld.Status.Record.ID, "approved", "")
	g.Eventually(func(g Gomega) {
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
	}).WithTimeout(gateWait).Should(Succeed())
	setStatus(t, d, completed)

	unheld := unheldClient(t)
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Spec.Template.Spec.Containers[0].Image = "app:2"
		cur.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf("app:2")
		return unheld.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse(), "not held at admission")
	setStatus(t, d, progressing)

	late := awaiting(t, d)
	g.Eventually(func(g Gomega) {
		cur := getDeployment(g, d)
		g.Expect(rollout.Held(cur)).To(BeTrue(), "paused with the hold marker")
		g.Expect(cur.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationHeldTemplate, late.Status.PodTemplateHash))
		g.Expect(warnings(g, ns, late.Name)).To(ContainElement(gitlabv1alpha1.ReasonHeldLate))
		g.Expect(warnings(g, ns, "web")).To(ContainElement(gitlabv1alpha1.ReasonHeldLate))
	}).WithTimeout(gateWait).Should(Succeed())

	f.decide(t, "alice", late.Status.Record.ID, "approved", "")
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, d).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalApproved))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
	}).WithTimeout(gateWait).Should(Succeed())
}

// A rejected template applied again stays held; a bypass releases it and
// names who set it.
func TestGateBypassReleasesARejectedTemplateAppliedAgain(t *testing.T) {
	g := NewWithT(t)
	ns, _, d, _, rejectedHash := rejectedRollout(t)
	changeTemplate(t, d, "app:2")
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue())

	olive := asUser(t, "olive-oncall")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident 4714"
		return olive.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		gld := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rollout.Name("web", rejectedHash, 0)}, gld)).To(Succeed())
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalBypassed), describe(gld))
		g.Expect(gld.Status.Approval.Bypass).To(Equal(&gitlabv1alpha1.ApprovalBypass{User: "olive-oncall", Reason: "incident 4714"}))
		cur := getDeployment(g, d)
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(rejectedHash))
	}).WithTimeout(gateWait).Should(Succeed())
}
