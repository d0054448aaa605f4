package e2e

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// A rollout that completes is one record, running then success, for
// exactly one POST and one PUT and no reads.
func TestRolloutSucceeds(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "success")

	// The pods become ready only once the rollout was seen running, as
	// real pods take seconds to start; kwok readies pods at once.
	create(t, neverReady(newDeployment(ns, "web", project, sha1, 3)))
	waitRollouts(t, ns, "web", settledAs(gitlabv1alpha1.PhaseProgressing, gitlab.StatusRunning))
	waitRecords(t, project, record(sha1, gitlab.StatusRunning))
	makePodsReady(t, ns, 3)

	glds := waitRollouts(t, ns, "web", settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	recs := waitRecords(t, project, record(sha1, gitlab.StatusSuccess))

	g.Expect(glds[0].Status.Record.ID).To(Equal(recs[0].ID))
	g.Expect(glds[0].Status.Rollout.AvailableReplicas).To(BeEquivalentTo(3))
	g.Expect(glds[0].Status.Conditions).To(ContainElement(And(
		HaveField("Type", gitlabv1alpha1.ConditionReady), HaveField("Status", BeEquivalentTo("True")))))
	g.Expect(events(g, t.Context(), ns, glds[0].Name)).To(ContainElements(
		event(corev1.EventTypeNormal, "RecordCreated"), event(corev1.EventTypeNormal, "RecordUpdated")))
	traffic := gitLab.Traffic(project, recs[0].CreatedAt.Add(-timeout))
	g.Expect(traffic.Posts).To(Equal(1), "traffic: %s", traffic)
	g.Expect(traffic.Puts).To(Equal(1), "traffic: %s", traffic)
	g.Expect(traffic.Total()).To(Equal(2), "no reads: %s", traffic)
}

// A rollout that exceeds its progress deadline is recorded failed; when its
// pods become ready after all, the same record turns success.
func TestFailedRolloutRecovers(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "recovery")

	d := neverReady(newDeployment(ns, "api", project, sha1, 2))
	d.Spec.ProgressDeadlineSeconds = new(int32(3))
	create(t, d)
	failed := waitRollouts(t, ns, "api", And(
		settledAs(gitlabv1alpha1.PhaseFailed, gitlab.StatusFailed),
		HaveField("Status.Rollout.Reason", "ProgressDeadlineExceeded")))
	waitRecords(t, project, record(sha1, gitlab.StatusFailed))

	// The pods become ready after all; the template is unchanged, so this
	// is the same rollout.
	makePodsReady(t, ns, 2)

	recovered := waitRollouts(t, ns, "api", settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess))
	recs := waitRecords(t, project, record(sha1, gitlab.StatusSuccess))
	g.Expect(recovered[0].UID).To(Equal(failed[0].UID))
	g.Expect(recovered[0].Status.Record.ID).To(Equal(recs[0].ID))
	traffic := gitLab.Traffic(project, recs[0].CreatedAt.Add(-timeout))
	g.Expect(traffic.Posts).To(Equal(1), "one record: %s", traffic)
	g.Expect(traffic.Puts).To(Equal(2), "failed, then success: %s", traffic)
	g.Expect(traffic.Gets).To(BeZero(), "no reads: %s", traffic)
}
