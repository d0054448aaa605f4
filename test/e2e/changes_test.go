package e2e

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Scaling and editing a Deployment's metadata are not rollouts; rolling
// back to an earlier template (kubectl rollout undo) is a new one.
func TestOnlyNewTemplatesAreRollouts(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ns, project := newNamespace(t), newProject(t, "changes")
	succeeded := settledAs(gitlabv1alpha1.PhaseSucceeded, gitlab.StatusSuccess)

	create(t, newDeployment(ns, "web", project, sha1, 2))
	waitRollouts(t, ns, "web", succeeded)

	update(t, ns, "web", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(3)) })
	waitRollouts(t, ns, "web", And(succeeded, HaveField("Status.Rollout.AvailableReplicas", BeEquivalentTo(3))))
	update(t, ns, "web", func(d *appsv1.Deployment) { d.Annotations["example.com/owner"] = "team-a" })

	update(t, ns, "web", func(d *appsv1.Deployment) { deployNewCommit(d) })
	waitRollouts(t, ns, "web", succeeded, succeeded)

	undo(t, ns, "web", sha1)
	glds := waitRollouts(t, ns, "web",
		And(succeeded, HaveField("Spec.SHA", sha1)),
		And(succeeded, HaveField("Spec.SHA", sha2)),
		And(succeeded, HaveField("Spec.SHA", sha1)))
	g.Expect(glds[2].Spec.PodTemplateHash).To(Equal(glds[0].Spec.PodTemplateHash))
	g.Expect(glds[2].Name).NotTo(Equal(glds[0].Name))

	recs := waitRecords(t, project, record(sha1, gitlab.StatusSuccess), record(sha2, gitlab.StatusSuccess),
		record(sha1, gitlab.StatusSuccess))
	for i := range glds {
		g.Expect(glds[i].Status.Record.ID).To(Equal(recs[i].ID))
	}
	traffic := gitLab.Traffic(project, recs[0].CreatedAt.Add(-timeout))
	// One record per rollout. A rollout kwok completes before the operator
	// first looks is recorded success at once (POST success, after looking
	// for a record to adopt), so PUTs and reads are not counted here.
	g.Expect(traffic.Posts).To(Equal(3), "three rollouts: %s", traffic)
}

// undo rolls the Deployment back to the template and annotations of the
// ReplicaSet that ran sha, as kubectl rollout undo does.
func undo(t *testing.T, ns, name, sha string) {
	t.Helper()
	var sets appsv1.ReplicaSetList
	if err := k8s.List(t.Context(), &sets, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
		t.Fatal(err)
	}
	var old *appsv1.ReplicaSet
	for i := range sets.Items {
		if sets.Items[i].Annotations[gitlabv1alpha1.AnnotationSHA] == sha {
			old = &sets.Items[i]
		}
	}
	if old == nil {
		t.Fatalf("no ReplicaSet of %s ran %s", name, sha)
	}
	update(t, ns, name, func(d *appsv1.Deployment) {
		d.Spec.Template = *old.Spec.Template.DeepCopy()
		delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		for k, v := range old.Annotations {
			if !strings.HasPrefix(k, "deployment.kubernetes.io/") {
				d.Annotations[k] = v
			}
		}
	})
}
