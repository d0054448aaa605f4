package e2e

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// A Deployment without a commit sha is recorded as a stalled rollout with a
// Warning Event, and nothing is sent to GitLab.
func TestMissingSHAStallsWithoutGitLabRequests(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "invalid")

	d := newDeployment(ns, "web", project, sha1, 1)
	delete(d.Annotations, gitlabv1alpha1.AnnotationSHA)
	create(t, d)

	glds := waitRollouts(t, ns, "web", HaveField("Status.Conditions", ContainElement(And(
		HaveField("Type", gitlabv1alpha1.ConditionStalled),
		HaveField("Status", metav1.ConditionTrue),
		HaveField("Reason", "InvalidSHA")))))
	g.Expect(glds[0].Status.Conditions).To(ContainElement(And(
		HaveField("Type", gitlabv1alpha1.ConditionReady), HaveField("Status", metav1.ConditionFalse))))
	g.Eventually(func(g Gomega) {
		g.Expect(events(g, t.Context(), ns, glds[0].Name)).To(ContainElement(event(corev1.EventTypeWarning, "InvalidSHA")))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(gitLab.Traffic(project, time.Time{}).Total()).To(BeZero())
	g.Expect(records(g, project)).To(BeEmpty())
}
