package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/localcluster"
)

const (
	// shaLabel on a pod template names its rollout, so that the stream can
	// find the pods of one rollout.
	shaLabel = "faults.rollgate.dev/sha"
	// shortDeadline is the progressDeadlineSeconds of every other Deployment;
	// the others have a long one, so that a never-ready rollout there is
	// canceled when superseded rather than failed.
	shortDeadline = 3
	longDeadline  = 600
	// minSlot is the shortest time a stream gives one rollout.
	minSlot = 6 * time.Second
)

// shaSeq numbers the commits of every stream of the suite: each rollout has
// a sha of its own.
var shaSeq atomic.Int64

func nextSHA() string { return fmt.Sprintf("%040x", shaSeq.Add(1)) }

// stream rolls out a stream of commits over Deployments of one namespace,
// each recording to the GitLab environment of its name in one project.
type stream struct {
	t       *testing.T
	ns      string
	project string
	oracle  *oracle
	// mgr, when set, is waited for before a Deployment's finished rollout
	// is replaced or deleted: rollgate must have had a chance to see how it
	// ended.
	mgr  *manager
	deps []*streamDeployment

	mu     sync.Mutex
	rng    *rand.Rand
	counts map[rolloutKind]int
}

type streamDeployment struct {
	name     string
	replicas int32
	deadline int32
	exists   bool
}

// newStream makes a namespace, a project and n Deployments to come.
func newStream(t *testing.T, name string, n int, mgr *manager) *stream {
	t.Helper()
	s := &stream{t: t, ns: newNamespace(t, name), project: newProject(t, name), mgr: mgr,
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14)), counts: map[rolloutKind]int{}} //nolint:gosec // test randomness
	s.oracle = watchDeployments(t, s.ns)
	for i := range n {
		d := &streamDeployment{name: fmt.Sprintf("app-%02d", i), replicas: int32(1 + i%2), deadline: longDeadline}
		if i%2 == 0 {
			d.deadline = shortDeadline
		}
		s.deps = append(s.deps, d)
	}
	return s
}

// run rolls out n commits spread over the Deployments and over duration,
// each Deployment's last one a success, and returns once those completed.
func (s *stream) run(ctx context.Context, n int, duration time.Duration) {
	var wg sync.WaitGroup
	for i, d := range s.deps {
		count := n / len(s.deps)
		if i < n%len(s.deps) {
			count++
		}
		if count == 0 {
			continue
		}
		slot := max(duration/time.Duration(count), minSlot)
		wg.Go(func() { s.runDeployment(ctx, d, count, slot) })
	}
	wg.Wait()
}

func (s *stream) runDeployment(ctx context.Context, d *streamDeployment, count int, slot time.Duration) {
	begin := time.Now()
	for k := range count {
		if ctx.Err() != nil {
			return
		}
		// Start at the slot, a little late at random, so that the
		// Deployments do not move in step.
		start := begin.Add(time.Duration(k)*slot + s.jitter(slot/4))
		sleepUntil(ctx, start)
		kind := kindSucceed
		if k < count-1 {
			kind = s.pickKind()
		}
		s.mu.Lock()
		s.counts[kind]++
		s.mu.Unlock()
		if s.mgr != nil {
			s.mgr.waitObserved(ctx, s.oracle.changedAt(d.name))
		}
		if err := s.rollout(ctx, d, kind, begin.Add(time.Duration(k+1)*slot)); err != nil {
			s.t.Errorf("Deployment %s: %v", d.name, err)
			return
		}
	}
}

func (s *stream) jitter(upTo time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if upTo <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(upTo)))
}

// pickKind draws a rollout kind: 4 succeed, 3 never ready, 2 recovering,
// 1 deleted in 10.
func (s *stream) pickKind() rolloutKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch n := s.rng.IntN(10); {
	case n < 4:
		return kindSucceed
	case n < 7:
		return kindNeverReady
	case n < 9:
		return kindRecovering
	default:
		return kindDeleted
	}
}

// rollout applies a new commit of kind and plays it until its end (for
// recovering and deleted rollouts, at most until next).
func (s *stream) rollout(ctx context.Context, d *streamDeployment, kind rolloutKind, next time.Time) error {
	sha := nextSHA()
	s.oracle.expect(d.name, sha, kind)
	if err := s.apply(ctx, d, sha, kind != kindSucceed); err != nil {
		return err
	}
	switch kind {
	case kindSucceed:
		if !s.oracle.waitFor(ctx, sha, 30*time.Second, func(f rolloutFact) bool { return !f.completed.IsZero() }) {
			return fmt.Errorf("rollout %s did not complete in 30s", short(sha))
		}
	case kindRecovering:
		if d.deadline == shortDeadline {
			s.oracle.waitFor(ctx, sha, time.Until(next)-2*time.Second, func(f rolloutFact) bool { return !f.deadline.IsZero() })
			if s.mgr != nil {
				s.mgr.waitObserved(ctx, s.oracle.changedAt(d.name))
			}
		} else {
			sleepUntil(ctx, time.Now().Add(time.Second+s.jitter(time.Second)))
		}
		return s.makeReady(ctx, sha)
	case kindDeleted:
		sleepUntil(ctx, time.Now().Add(time.Until(next)/2))
		return s.delete(ctx, d)
	case kindNeverReady:
	}
	return nil
}

// apply creates or updates the Deployment to deploy sha.
func (s *stream) apply(ctx context.Context, d *streamDeployment, sha string, neverReady bool) error {
	set := func(dep *appsv1.Deployment) {
		dep.Annotations[gitlabv1alpha1.AnnotationSHA] = sha
		tmpl := &dep.Spec.Template
		tmpl.Labels[shaLabel] = sha
		tmpl.Spec.Containers[0].Image = "registry.example/app:" + sha[len(sha)-12:]
		delete(tmpl.Labels, localcluster.NeverReadyLabel)
		if neverReady {
			tmpl.Labels[localcluster.NeverReadyLabel] = "true"
		}
	}
	if !d.exists {
		dep := s.newDeployment(d)
		set(dep)
		if err := k8s.Create(ctx, dep); err != nil {
			return err
		}
		d.exists = true
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: d.name}, dep); err != nil {
			return err
		}
		set(dep)
		return k8s.Update(ctx, dep)
	})
}

func (s *stream) newDeployment(d *streamDeployment) *appsv1.Deployment {
	labels := map[string]string{"app": d.name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: d.name, Labels: labels, Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: d.name,
			gitlabv1alpha1.AnnotationProject:     s.project,
			gitlabv1alpha1.AnnotationRef:         "main",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &d.replicas,
			ProgressDeadlineSeconds: &d.deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": d.name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app"}}},
			},
		},
	}
}

// makeReady plays the kubelet for the pods of sha until the rollout
// completes: kwok never readies pods with NeverReadyLabel.
func (s *stream) makeReady(ctx context.Context, sha string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if !s.oracle.fact(sha).completed.IsZero() {
			return nil
		}
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(s.ns), client.MatchingLabels{shaLabel: sha}); err != nil {
			return err
		}
		for i := range pods.Items {
			if err := markReady(ctx, &pods.Items[i]); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return err
			}
		}
		sleepUntil(ctx, time.Now().Add(200*time.Millisecond))
	}
	if s.oracle.fact(sha).completed.IsZero() {
		return fmt.Errorf("recovering rollout %s did not complete in 30s once its pods were made ready", short(sha))
	}
	return nil
}

// markReady marks a pod ready, as a kubelet would once its probe passes.
func markReady(ctx context.Context, pod *corev1.Pod) error {
	patch := client.MergeFrom(pod.DeepCopy())
	changed := false
	for j := range pod.Status.Conditions {
		c := &pod.Status.Conditions[j]
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != corev1.ConditionTrue {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
			c.LastTransitionTime = metav1.Now()
			changed = true
		}
	}
	for j := range pod.Status.ContainerStatuses {
		if !pod.Status.ContainerStatuses[j].Ready {
			pod.Status.ContainerStatuses[j].Ready = true
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return k8s.Status().Patch(ctx, pod, patch)
}

// delete deletes the Deployment and waits until it is gone.
func (s *stream) delete(ctx context.Context, d *streamDeployment) error {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: d.name}}
	if err := k8s.Delete(ctx, dep); err != nil {
		return err
	}
	d.exists = false
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)
		if apierrors.IsNotFound(err) {
			return nil
		}
		sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
	}
	return fmt.Errorf("still there a minute after it was deleted")
}

// kindRows are the figures of what the stream rolled out.
func (s *stream) kindRows() [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [][2]string{{"rollouts applied (succeed / never ready / recovering / deleted)",
		fmt.Sprintf("%d / %d / %d / %d", s.counts[kindSucceed], s.counts[kindNeverReady], s.counts[kindRecovering], s.counts[kindDeleted])}}
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
