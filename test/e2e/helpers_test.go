package e2e

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// environment is the GitLab environment every test deploys to; each test
// has its own project.
const environment = "production"

// Commits deployed by the tests.
const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

const (
	// timeout bounds a wait for the operator or the cluster.
	timeout = 45 * time.Second
	// poll is how often a wait looks again.
	poll = 100 * time.Millisecond
)

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	if err := k8s.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context() is already canceled when cleanups run.
		if err := k8s.Delete(context.Background(), ns); err != nil {
			t.Error(err)
		}
	})
	return ns.Name
}

// newProject adds the GitLab project e2e/<name> and returns its full path.
func newProject(t *testing.T, name string) string {
	t.Helper()
	path := "e2e/" + name
	if err := gitLab.AddProject(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// newDeployment returns a Deployment of replicas pods that opts in, recording
// sha of branch main to project's production environment.
func newDeployment(ns, name, project, sha string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: environment,
			gitlabv1alpha1.AnnotationProject:     project,
			gitlabv1alpha1.AnnotationSHA:         sha,
			gitlabv1alpha1.AnnotationRef:         "main",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:" + sha[:8],
				}}},
			},
		},
	}
}

// neverReady makes the Deployment's pods never become ready.
func neverReady(d *appsv1.Deployment) *appsv1.Deployment {
	d.Spec.Template.Labels[localcluster.NeverReadyLabel] = "true"
	return d
}

// deployNewCommit deploys commit sha2: its sha annotation and its image.
func deployNewCommit(d *appsv1.Deployment) {
	d.Annotations[gitlabv1alpha1.AnnotationSHA] = sha2
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:" + sha2[:8]
}

// create creates obj, failing the test on error.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

// update changes the Deployment with mutate, retrying on conflicts.
func update(t *testing.T, ns, name string, mutate func(*appsv1.Deployment)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		mutate(d)
		return k8s.Update(t.Context(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rollouts lists the GitLabDeployments of a Deployment in the order the
// operator numbered them.
func rollouts(g Gomega, ctx context.Context, ns, workload string) []gitlabv1alpha1.GitLabDeployment {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns),
		client.MatchingLabels{gitlabv1alpha1.LabelWorkload: workload})).To(Succeed())
	revision := func(gld gitlabv1alpha1.GitLabDeployment) int {
		n, _ := strconv.Atoi(gld.Annotations[gitlabv1alpha1.AnnotationRevision])
		return n
	}
	slices.SortFunc(list.Items, func(a, b gitlabv1alpha1.GitLabDeployment) int { return revision(a) - revision(b) })
	return list.Items
}

// records returns project's deployments in the production environment,
// oldest first.
func records(g Gomega, project string) []gitlabtest.Deployment {
	ds, err := gitLab.Deployments(project, environment)
	g.Expect(err).NotTo(HaveOccurred())
	slices.SortFunc(ds, func(a, b gitlabtest.Deployment) int { return int(a.ID - b.ID) })
	return ds
}

// settledAs matches a GitLabDeployment whose phase is phase, whose record
// says status, with nothing left to send.
func settledAs(phase gitlabv1alpha1.RolloutPhase, status string) OmegaMatcher {
	return And(
		HaveField("Status.Phase", phase),
		HaveField("Status.Record.Status", status),
		HaveField("Status.Record.Intent", ""),
		HaveField("Status.Record.ID", BeNumerically(">", 0)))
}

// record matches a GitLab deployment of sha on main with status.
func record(sha, status string) OmegaMatcher {
	return And(HaveField("SHA", sha), HaveField("Ref", "main"), HaveField("Status", status),
		HaveField("JobID", BeZero()))
}

// waitRollouts waits until the Deployment's GitLabDeployments, in order,
// satisfy matchers, and returns them.
func waitRollouts(t *testing.T, ns, workload string, matchers ...any) []gitlabv1alpha1.GitLabDeployment {
	t.Helper()
	var out []gitlabv1alpha1.GitLabDeployment
	NewWithT(t).Eventually(func(g Gomega) {
		out = rollouts(g, t.Context(), ns, workload)
		g.Expect(out).To(HaveExactElements(matchers...))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return out
}

// waitRecords waits until project's GitLab deployments, oldest first,
// satisfy matchers, and returns them.
func waitRecords(t *testing.T, project string, matchers ...any) []gitlabtest.Deployment {
	t.Helper()
	return waitRecordsMatching(t, project, HaveExactElements(matchers...))
}

// waitRecordSet waits until the project's records match, in any order:
// rollouts of different Deployments are recorded concurrently.
func waitRecordSet(t *testing.T, project string, matchers ...any) []gitlabtest.Deployment {
	t.Helper()
	return waitRecordsMatching(t, project, ConsistOf(matchers...))
}

func waitRecordsMatching(t *testing.T, project string, matcher types.GomegaMatcher) []gitlabtest.Deployment {
	t.Helper()
	var out []gitlabtest.Deployment
	NewWithT(t).Eventually(func(g Gomega) {
		out = records(g, project)
		g.Expect(out).To(matcher)
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return out
}

// events returns the Events about a GitLabDeployment.
func events(g Gomega, ctx context.Context, ns, name string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	return slices.DeleteFunc(list.Items, func(e eventsv1.Event) bool {
		return e.Regarding.Kind != "GitLabDeployment" || e.Regarding.Name != name
	})
}

// event matches an Event of type and reason.
func event(eventType, reason string) OmegaMatcher {
	return And(HaveField("Type", eventType), HaveField("Reason", reason))
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// makePodsReady marks the n pods in ns ready, as a kubelet would once a
// readiness probe passes: kwok keeps running pods with NeverReadyLabel
// unready and readies only pending pods, so the test plays the kubelet.
func makePodsReady(t *testing.T, ns string, n int) {
	t.Helper()
	g := NewWithT(t)
	var pods corev1.PodList
	g.Expect(k8s.List(t.Context(), &pods, client.InNamespace(ns))).To(Succeed())
	g.Expect(pods.Items).To(HaveLen(n))
	for i := range pods.Items {
		pod := &pods.Items[i]
		patch := client.MergeFrom(pod.DeepCopy())
		for j := range pod.Status.Conditions {
			c := &pod.Status.Conditions[j]
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
				c.LastTransitionTime = metav1.Now()
			}
		}
		for j := range pod.Status.ContainerStatuses {
			pod.Status.ContainerStatuses[j].Ready = true
		}
		g.Expect(k8s.Status().Patch(t.Context(), pod, patch)).To(Succeed())
	}
}
