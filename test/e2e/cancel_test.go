package e2e

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// A rollout that cannot finish and is replaced by a newer template is
// canceled; the newer rollout is a second record that succeeds.
func TestSupersededRolloutIsCanceled(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "superseded")

	create(t, neverReady(newDeployment(ns, "web", project, sha1, 2)))
	waitRollouts(t, ns, "web", settledAs(gitlabv1alpha1.PhaseProgressing, gitlab.StatusRunning))
	waitRecords(t, project, record(sha1, gitlab.StatusRunning))

	update(t, ns, "web", func(d *appsv1.Deployment) {
		deployNewCommit(d)
		delete(d.Spec.Template.Labels, localcluster.NeverReadyLabel)
	})

	glds := waitRollouts(t, ns, "web",
		settledAs(gitlabv1alpha1.PhaseCanceled, gitlab.StatusCanceled),
		settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	recs := waitRecords(t, project, record(sha1, gitlab.StatusCanceled), record(sha2, gitlab.StatusSuccess))
	g.Expect(glds[0].Status.Record.ID).To(Equal(recs[0].ID))
	g.Expect(glds[1].Status.Record.ID).To(Equal(recs[1].ID))
	traffic := gitLab.Traffic(project, recs[0].CreatedAt.Add(-timeout))
	g.Expect(traffic.Posts).To(Equal(2), "traffic: %s", traffic)
	g.Expect(traffic.Puts).To(Equal(2), "traffic: %s", traffic)
	g.Expect(traffic.Gets).To(BeZero(), "no reads: %s", traffic)
}

// A Deployment deleted mid-rollout has its record canceled, and its
// GitLabDeployments are garbage-collected.
func TestDeletedDeploymentCancelsItsRollout(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "deleted")

	d := neverReady(newDeployment(ns, "worker", project, sha1, 2))
	create(t, d)
	glds := waitRollouts(t, ns, "worker", settledAs(gitlabv1alpha1.PhaseProgressing, gitlab.StatusRunning))
	g.Expect(glds[0].Finalizers).To(ContainElement("gitlab.rollgate.dev/record"))

	g.Expect(k8s.Delete(t.Context(), d, client.PropagationPolicy("Background"))).To(Succeed())

	recs := waitRecords(t, project, record(sha1, gitlab.StatusCanceled))
	g.Eventually(func(g Gomega) {
		g.Expect(rollouts(g, t.Context(), ns, "worker")).To(BeEmpty())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	traffic := gitLab.Traffic(project, recs[0].CreatedAt.Add(-timeout))
	g.Expect(traffic.Posts).To(Equal(1), "traffic: %s", traffic)
	g.Expect(traffic.Puts).To(Equal(1), "traffic: %s", traffic)
	g.Expect(traffic.Gets).To(BeZero(), "no reads: %s", traffic)
}
