package e2e

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// These tests stop the shared manager, so they do not run in parallel; Go
// runs them before the parallel tests start.

// A manager killed after GitLab created a record but before it learned of
// it adopts that record when it comes back, instead of creating another.
func TestCrashAfterCreateAdoptsTheRecord(t *testing.T) {
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "crash")
	t.Cleanup(func() { ensureManagerRunning(t) })

	created := gitLab.HoldCreate(project)
	create(t, neverReady(newDeployment(ns, "web", project, sha1, 2)))
	select {
	case <-created:
	case <-time.After(timeout):
		t.Fatal("the manager sent no deployment POST")
	}
	g.Expect(manager.Kill()).To(Succeed())
	recs := records(g, project)
	g.Expect(recs).To(HaveExactElements(record(sha1, gitlab.StatusRunning)))
	g.Expect(rollouts(g, t.Context(), ns, "web")).To(HaveExactElements(And(
		HaveField("Status.Record.Intent", gitlab.StatusRunning), HaveField("Status.Record.ID", BeZero()))))

	g.Expect(manager.Start()).To(Succeed())
	glds := waitRollouts(t, ns, "web", And(
		settledAs(gitlabv1alpha1.PhaseProgressing, gitlab.StatusRunning),
		HaveField("Status.Record.ID", recs[0].ID)))
	g.Eventually(func(g Gomega) {
		g.Expect(events(g, t.Context(), ns, glds[0].Name)).To(ContainElement(event(corev1.EventTypeNormal, "RecordAdopted")))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	makePodsReady(t, ns, 2)
	waitRollouts(t, ns, "web", And(
		settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess),
		HaveField("Status.Record.ID", recs[0].ID)))
	waitRecords(t, project, record(sha1, gitlab.StatusSuccess))
	traffic := gitLab.Traffic(project, time.Time{})
	g.Expect(traffic.Posts).To(Equal(1), "one record: %s", traffic)
	g.Expect(traffic.Puts).To(Equal(1), "traffic: %s", traffic)
}

// Restarting the manager over settled rollouts (succeeded, failed,
// canceled) sends GitLab nothing about them.
func TestRestartOverSettledRolloutsSendsNothing(t *testing.T) {
	g := NewWithT(t)
	ns, project, sentinel := newNamespace(t), newProject(t, "settled"), newProject(t, "sentinel")
	t.Cleanup(func() { ensureManagerRunning(t) })

	create(t, newDeployment(ns, "ok", project, sha1, 1))
	broken := neverReady(newDeployment(ns, "broken", project, sha1, 1))
	broken.Spec.ProgressDeadlineSeconds = new(int32(3))
	create(t, broken)
	create(t, neverReady(newDeployment(ns, "replaced", project, sha1, 1)))
	waitRollouts(t, ns, "replaced", settledAs(gitlabv1alpha1.PhaseProgressing, gitlab.StatusRunning))
	update(t, ns, "replaced", func(d *appsv1.Deployment) {
		deployNewCommit(d)
		delete(d.Spec.Template.Labels, localcluster.NeverReadyLabel)
	})
	waitRollouts(t, ns, "ok", settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	waitRollouts(t, ns, "broken", settledAs(gitlabv1alpha1.PhaseFailed, gitlab.StatusFailed))
	waitRollouts(t, ns, "replaced",
		settledAs(gitlabv1alpha1.PhaseCanceled, gitlab.StatusCanceled),
		settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	waitRecordSet(t, project, record(sha1, gitlab.StatusSuccess), record(sha1, gitlab.StatusFailed),
		record(sha1, gitlab.StatusCanceled), record(sha2, gitlab.StatusSuccess))

	g.Expect(manager.Stop()).To(Succeed())
	restarted := time.Now()
	g.Expect(manager.Start()).To(Succeed())
	// A new rollout recorded after the restart shows the manager has synced
	// its caches and worked through the settled ones queued before it.
	create(t, newDeployment(ns, "sentinel", sentinel, sha3, 1))
	waitRollouts(t, ns, "sentinel", settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	g.Consistently(func() int {
		return gitLab.Traffic(project, restarted).Total()
	}).WithTimeout(2*time.Second).WithPolling(poll).Should(BeZero(),
		"requests after the restart: %s", gitLab.Traffic(project, restarted))
}

// ensureManagerRunning starts the shared manager again if a test left it
// stopped.
func ensureManagerRunning(t *testing.T) {
	if !manager.Running() {
		if err := manager.Start(); err != nil {
			t.Error(err)
		}
	}
}
