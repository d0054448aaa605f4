package localcluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

func TestDeploymentRollsOut(t *testing.T) {
	g := NewWithT(t)
	cs := clientset(t, shared)
	ns := newNamespace(t, cs)
	deployments := cs.AppsV1().Deployments(ns)

	start := time.Now()
	_, err := deployments.Create(t.Context(), deployment("web", 3, nil, nil), metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	waitRolledOut(t.Context(), g, cs, ns, "web")
	t.Logf("first rollout took %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := deployments.Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Template.Annotations = map[string]string{"rollgate.dev/revision": "2"}
		_, err = deployments.Update(t.Context(), d, metav1.UpdateOptions{})
		return err
	})
	g.Expect(err).NotTo(HaveOccurred())
	d := waitRolledOut(t.Context(), g, cs, ns, "web")
	t.Logf("second rollout took %v", time.Since(start).Round(time.Millisecond))

	g.Expect(d.Status.ObservedGeneration).To(BeNumerically(">=", 2))
	sets, err := cs.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sets.Items).To(HaveLen(2))
	for _, rs := range sets.Items {
		want := int32(0)
		if rs.Spec.Template.Annotations["rollgate.dev/revision"] == "2" {
			want = 3
		}
		g.Expect(rs.Status.Replicas).To(Equal(want), "replicas of ReplicaSet %s", rs.Name)
	}
}

func TestNeverReadyPodsExceedTheProgressDeadline(t *testing.T) {
	g := NewWithT(t)
	cs := clientset(t, shared)
	ns := newNamespace(t, cs)
	d := deployment("broken", 2, map[string]string{NeverReadyLabel: "true"}, new(int32(3)))

	start := time.Now()
	_, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "broken", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(d.Status.Conditions).To(ContainElement(And(
			HaveField("Type", appsv1.DeploymentProgressing),
			HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", "ProgressDeadlineExceeded"))))
		g.Expect(d.Status.AvailableReplicas).To(BeZero())
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	t.Logf("ProgressDeadlineExceeded after %v", time.Since(start).Round(time.Millisecond))

	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pods.Items).To(HaveLen(2))
	for _, pod := range pods.Items {
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), "phase of pod %s", pod.Name)
		g.Expect(pod.Status.Conditions).To(ContainElement(And(
			HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionFalse))), "pod %s", pod.Name)
	}
}

// waitRolledOut waits until the Deployment's rollout is complete by the rules
// of `kubectl rollout status`, and returns the Deployment.
func waitRolledOut(ctx context.Context, g Gomega, cs kubernetes.Interface, ns, name string) *appsv1.Deployment {
	var d *appsv1.Deployment
	g.Eventually(func() error {
		var err error
		if d, err = cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
		return rolloutComplete(d)
	}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	want := *d.Spec.Replicas
	g.Expect(d.Status).To(And(HaveField("Replicas", want), HaveField("UpdatedReplicas", want),
		HaveField("AvailableReplicas", want)))
	return d
}

// rolloutComplete applies the rules of `kubectl rollout status`.
func rolloutComplete(d *appsv1.Deployment) error {
	if d.Generation > d.Status.ObservedGeneration {
		return errors.New("waiting for the deployment spec update to be observed")
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return StopTrying(fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name))
		}
	}
	s := d.Status
	switch {
	case d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Errorf("%d out of %d new replicas have been updated", s.UpdatedReplicas, *d.Spec.Replicas)
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Errorf("%d old replicas are pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Errorf("%d of %d updated replicas are available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return nil
}

// deployment returns a Deployment of replicas pods with podLabels added to
// its template, and the given progress deadline if not nil.
func deployment(name string, replicas int32, podLabels map[string]string, deadline *int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	template := map[string]string{"app": name}
	maps.Copy(template, podLabels)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			ProgressDeadlineSeconds: deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: template},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
				}}},
			},
		},
	}
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	ns, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		if err := cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	})
	return ns.Name
}
