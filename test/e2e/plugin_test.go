package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// kubectl rollgate, built from the module, shows a held rollout with its
// pending rule and record, lists the rollouts, refuses a bypass without a
// reason, and aborts the held template back to the approved one, which
// rollgate releases: kubectl rollout undo has no ReplicaSet to go back to.
func (e *gateEnv) testKubectlPlugin(t *testing.T) {
	g := NewWithT(t)
	ctx, ns := t.Context(), e.namespace(t)
	bin := filepath.Join(t.TempDir(), "kubectl-rollgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/kubectl-rollgate")
	built, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "go build: %s", built)
	plugin := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", e.kubeconfig, "-n", ns)...)
		out, err := cmd.CombinedOutput()
		t.Logf("$ kubectl rollgate %s\n%s", strings.Join(args, " "), out)
		return string(out), err
	}

	g.Expect(e.k8s.Create(ctx, gated(ns, "shop", "staging", "source=Record", sha1))).To(Succeed())
	hash1 := rollout.TemplateHash(&e.deployment(g, ctx, ns, "shop").Spec.Template)
	var recordID int64
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "shop", hash1)
		g.Expect(gld.Status.Approval).NotTo(BeNil())
		g.Expect(gld.Status.Record.ID).NotTo(BeZero())
		recordID = gld.Status.Record.ID
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	e.decide(t, "alice", recordID, "approved")
	g.Eventually(func(g Gomega) {
		g.Expect(e.deployment(g, ctx, ns, "shop").Status.AvailableReplicas).To(BeEquivalentTo(2))
		g.Expect(rollout.Succeeded(e.rollout(g, ctx, ns, "shop", hash1))).To(BeTrue())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	e.update(t, ns, "shop", deployNewCommit)
	hash2 := rollout.TemplateHash(&e.deployment(g, ctx, ns, "shop").Spec.Template)
	var webURL string
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "shop", hash2)
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseAwaitingApproval))
		g.Expect(gld.Status.Approval).NotTo(BeNil())
		g.Expect(gld.Status.Approval.Rules).NotTo(BeEmpty())
		g.Expect(gld.Status.Record.WebURL).NotTo(BeEmpty())
		webURL = gld.Status.Record.WebURL
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(rollout.Held(e.deployment(g, ctx, ns, "shop"))).To(BeTrue())

	status, err := plugin("status", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(squeezed(status)).To(And(
		ContainSubstring("Held: yes: paused by rollgate"),
		MatchRegexp(`Rollout: shop-%s \(revision \d+\)`, hash2),
		ContainSubstring("Phase: AwaitingApproval"),
		ContainSubstring("Approved: False "+gitlabv1alpha1.ReasonAwaitingApproval),
		ContainSubstring("Approvers act at: "+webURL),
		MatchRegexp(`(?m)^RULE REQUIRED APPROVED PENDING\n\S+ 1 0 1$`)))

	history, err := plugin("history", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(squeezed(history)).To(MatchRegexp(`(?m)^shop-%s \d+ 11111111 Succeeded #\d+ success Approved \S+\n`+
		`shop-%s \* \d+ 22222222 AwaitingApproval #\d+ \S+ Awaiting \S+$`, hash1, hash2))

	out, err := plugin("bypass", "shop")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("--reason is required"))
	g.Expect(e.deployment(g, ctx, ns, "shop").Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))

	out, err = plugin("abort", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("template " + hash2 + " replaced by " + hash1))
	g.Eventually(func(g Gomega) {
		d := e.deployment(g, ctx, ns, "shop")
		g.Expect(rollout.TemplateHash(&d.Spec.Template)).To(Equal(hash1))
		g.Expect(d.Spec.Template.Labels).NotTo(HaveKey(appsv1.DefaultDeploymentUniqueLabelKey))
		g.Expect(d.Spec.Paused).To(BeFalse())
		g.Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(2))
		g.Expect(d.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationSHA, sha1))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	// The restored template runs commit 1111 again: rollgate records that
	// commit, not the aborted one's, and the aborted record is canceled.
	g.Eventually(func(g Gomega) {
		var list gitlabv1alpha1.GitLabDeploymentList
		g.Expect(e.k8s.List(ctx, &list, client.InNamespace(ns),
			client.MatchingLabels{gitlabv1alpha1.LabelWorkload: "shop"})).To(Succeed())
		all := list.Items
		slices.SortFunc(all, rollout.Compare)
		g.Expect(all).To(HaveLen(3))
		g.Expect(all[1].Status.Record.Status).To(Equal("canceled"))
		g.Expect(rollout.Hash(&all[2])).To(Equal(hash1))
		g.Expect(all[2].Spec.SHA).To(Equal(sha1))
		g.Expect(all[2].Status.Record.Status).To(Equal("success"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	out, err = plugin("abort", "shop")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("is not held by rollgate"))
	_, _ = plugin("status", "shop")
	_, _ = plugin("history", "shop")

	// A first rollout, held: nothing to go back to, and a bypass releases it.
	g.Expect(e.k8s.Create(ctx, gated(ns, "cart", "staging", "source=Record", sha3))).To(Succeed())
	cartHash := rollout.TemplateHash(&e.deployment(g, ctx, ns, "cart").Spec.Template)
	g.Eventually(func(g Gomega) {
		g.Expect(e.rollout(g, ctx, ns, "cart", cartHash).Status.Phase).To(Equal(gitlabv1alpha1.PhaseAwaitingApproval))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	out, err = plugin("abort", "cart")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("nothing to go back to"))
	out, err = plugin("bypass", "cart", "--reason", "incident 4711: hotfix")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("rollgate releases the held template " + cartHash))
	g.Eventually(func(g Gomega) {
		d := e.deployment(g, ctx, ns, "cart")
		g.Expect(d.Spec.Paused).To(BeFalse())
		g.Expect(d.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass), "spent")
		a := e.rollout(g, ctx, ns, "cart", cartHash).Status.Approval
		g.Expect(a.State).To(Equal(gitlabv1alpha1.ApprovalBypassed))
		g.Expect(a.Bypass).NotTo(BeNil())
		g.Expect(a.Bypass.Reason).To(Equal("incident 4711: hotfix"))
		// The user of the kubeconfig the plugin ran with, as the API
		// server authenticated it and rollgate's webhook signed it.
		g.Expect(a.Bypass.User).To(Equal("rollgate-admin"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "cart", cartHash)
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseSucceeded))
		g.Expect(gld.Status.Conditions).To(ContainElement(And(HaveField("Type", gitlabv1alpha1.ConditionApproved),
			HaveField("Reason", gitlabv1alpha1.ReasonBypassed))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	_, _ = plugin("status", "cart")
}

// squeezed collapses the runs of spaces of a table's alignment.
func squeezed(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
