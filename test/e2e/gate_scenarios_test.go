package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/rollout"
)

// A Deployment gated on its own record is created paused and no pod or
// ReplicaSet exists until both rules approve; then it rolls out and its
// record succeeds. A later template that is rejected never runs: the
// approved one is restored and the rejected one, applied again, stays held
// without a new approval round.
func (e *gateEnv) testRecordSource(t *testing.T) {
	g := NewWithT(t)
	ctx, ns := t.Context(), e.namespace(t)
	stop := e.watchHeld(t, ns)
	g.Expect(e.k8s.Create(ctx, gated(ns, "web", "production", "source=Record", sha1))).To(Succeed())
	hash1 := rollout.TemplateHash(&e.deployment(g, ctx, ns, "web").Spec.Template)

	var recordID int64
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "web", hash1)
		g.Expect(gld.Status.Approval).NotTo(BeNil())
		g.Expect(gld.Status.Approval.PendingCount).To(BeEquivalentTo(2))
		recordID = gld.Status.Record.ID
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(e.records(g, "production")).To(Equal([]string{"1111:running"}))
	d := e.deployment(g, ctx, ns, "web")
	d.Spec.Paused = false
	g.Expect(apierrors.IsForbidden(e.k8s.Update(ctx, d))).To(BeTrue(), "only rollgate releases a held rollout")

	e.decide(t, "alice", recordID, "approved")
	g.Eventually(func(g Gomega) {
		a := e.rollout(g, ctx, ns, "web", hash1).Status.Approval
		g.Expect(a.PendingCount).To(BeEquivalentTo(1))
		g.Expect(a.Rules).To(ConsistOf(HaveField("Pending", BeEquivalentTo(0)), HaveField("Pending", BeEquivalentTo(1))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(e.deployment(g, ctx, ns, "web").Spec.Paused).To(BeTrue())
	}).WithTimeout(2 * time.Second).WithPolling(poll).Should(Succeed())
	g.Expect(stop()).To(BeZero(), "no ReplicaSet or Pod while held")

	e.decide(t, "bob", recordID, "approved")
	g.Eventually(func(g Gomega) {
		g.Expect(e.records(g, "production")).To(Equal([]string{"1111:success"}))
		g.Expect(e.rollout(g, ctx, ns, "web", hash1).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalApproved))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	e.rejectAndReapply(t, ns, hash1)
}

// rejectAndReapply holds a new template, rejects it, and applies it again.
func (e *gateEnv) rejectAndReapply(t *testing.T, ns, hash1 string) {
	g := NewWithT(t)
	ctx := t.Context()
	stop := e.watchHeld(t, ns, hash1)
	e.update(t, ns, "web", func(d *appsv1.Deployment) { deployNewCommit(d) })
	hash2 := rollout.TemplateHash(&e.deployment(g, ctx, ns, "web").Spec.Template)
	var recordID int64
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "web", hash2)
		g.Expect(gld.Status.Approval).NotTo(BeNil())
		g.Expect(gld.Status.Record.ID).NotTo(BeZero())
		recordID = gld.Status.Record.ID
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	e.decide(t, "alice", recordID, "rejected")
	g.Eventually(func(g Gomega) {
		d := e.deployment(g, ctx, ns, "web")
		g.Expect(rollout.TemplateHash(&d.Spec.Template)).To(Equal(hash1))
		g.Expect(d.Spec.Paused).To(BeFalse())
		g.Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(2))
		g.Expect(e.records(g, "production")).To(Equal([]string{"1111:success", "2222:canceled"}))
		g.Expect(e.rollout(g, ctx, ns, "web", hash2).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalRejected))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	// A GitOps tool applies the rejected template again.
	e.update(t, ns, "web", func(d *appsv1.Deployment) { deployNewCommit(d) })
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "web", hash2)
		d := e.deployment(g, ctx, ns, "web")
		g.Expect(gld.Status.Conditions).To(ContainElement(HaveField("Reason", gitlabv1alpha1.ReasonRejectedTemplateHeld)),
			"deployment: paused=%v hash=%s annotations=%v status=%+v; rollout status=%+v",
			d.Spec.Paused, rollout.TemplateHash(&d.Spec.Template), d.Annotations, d.Status, gld.Status)
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		d := e.deployment(g, ctx, ns, "web")
		g.Expect(d.Spec.Paused).To(BeTrue())
		g.Expect(rollout.TemplateHash(&d.Spec.Template)).To(Equal(hash2))
		g.Expect(e.records(g, "production")).To(HaveLen(2), "no new record")
	}).WithTimeout(3 * time.Second).WithPolling(poll).Should(Succeed())
	g.Expect(e.countRollouts(g, ns)).To(Equal(2), "no new GitLabDeployment")
	g.Expect(stop()).To(BeZero(), "no ReplicaSet or Pod of the rejected template")
}

func (e *gateEnv) countRollouts(g Gomega, ns string) int {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(e.k8s.List(context.Background(), &list)).To(Succeed())
	n := 0
	for i := range list.Items {
		if list.Items[i].Namespace == ns {
			n++
		}
	}
	return n
}

// A Deployment gated on the pipeline waits for the CI job of its commit,
// is held while the job's deployment is blocked, and runs once the job's
// approval rule is met; rollgate then records it itself.
func (e *gateEnv) testPipelineSource(t *testing.T) {
	g := NewWithT(t)
	ctx, ns := t.Context(), e.namespace(t)
	stop := e.watchHeld(t, ns)
	g.Expect(e.k8s.Create(ctx, gated(ns, "api", "staging", "true", sha3))).To(Succeed())
	hash := rollout.TemplateHash(&e.deployment(g, ctx, ns, "api").Spec.Template)
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "api", hash)
		g.Expect(gld.Status.Conditions).To(ContainElement(HaveField("Reason", gitlabv1alpha1.ReasonWaitingForPipeline)))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	job, err := e.gitlab.CreateJob(gitlabtest.JobSpec{Project: gateProject, Environment: "staging", Ref: "main", SHA: sha3, User: "rollgate"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		a := e.rollout(g, ctx, ns, "api", hash).Status.Approval
		g.Expect(a.DeploymentID).To(Equal(job.DeploymentID))
		g.Expect(a.PendingCount).To(BeEquivalentTo(1))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(stop()).To(BeZero(), "no ReplicaSet or Pod while held")

	e.decide(t, "alice", job.DeploymentID, "approved")
	g.Eventually(func(g Gomega) {
		g.Expect(e.deployment(g, ctx, ns, "api").Status.AvailableReplicas).To(BeEquivalentTo(2))
		g.Expect(e.records(g, "staging")).To(Equal([]string{"3333:blocked", "3333:success"}))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}
