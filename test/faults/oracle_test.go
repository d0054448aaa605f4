package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// rolloutKind is what a stream makes a rollout do.
type rolloutKind string

const (
	// kindSucceed: pods become ready; the rollout completes.
	kindSucceed rolloutKind = "succeed"
	// kindNeverReady: pods never become ready; the rollout is superseded
	// (canceled) or exceeds its progress deadline first (failed).
	kindNeverReady rolloutKind = "never-ready"
	// kindRecovering: pods become ready late, after the deadline passed on
	// a Deployment with a short one (failed, then success).
	kindRecovering rolloutKind = "recovering"
	// kindDeleted: the Deployment is deleted mid-rollout (canceled).
	kindDeleted rolloutKind = "deleted"
)

// rolloutFact is what one rollout (one commit sha of one Deployment) did, as
// a watch of the Deployment saw it: each time is when an event first showed
// it, zero if none did.
type rolloutFact struct {
	deployment, sha string
	kind            rolloutKind
	applied         time.Time
	// completed: complete by kubectl rollout status's rules.
	completed time.Time
	// deadline: Progressing=False, ProgressDeadlineExceeded.
	deadline time.Time
	// superseded by a newer template; gone with its Deployment.
	superseded, gone time.Time
}

// want is the status the rollout's GitLab record must end with: a rollout
// that completed is a success even if it was superseded later; one that
// only exceeded its deadline failed; one replaced or deleted unfinished was
// canceled; one still going is running.
func (f *rolloutFact) want() string {
	switch {
	case !f.completed.IsZero():
		return gitlab.StatusSuccess
	case !f.deadline.IsZero():
		return gitlab.StatusFailed
	case !f.superseded.IsZero() || !f.gone.IsZero():
		return gitlab.StatusCanceled
	}
	return gitlab.StatusRunning
}

// story says what the rollout did, relative to when it was applied.
func (f *rolloutFact) story() string {
	parts := []string{string(f.kind)}
	at := func(what string, t time.Time) {
		if !t.IsZero() {
			parts = append(parts, fmt.Sprintf("%s +%.1fs", what, t.Sub(f.applied).Seconds()))
		}
	}
	at("deadline exceeded", f.deadline)
	at("completed", f.completed)
	at("superseded", f.superseded)
	at("deleted", f.gone)
	return strings.Join(parts, ", ")
}

// oracle watches a namespace's Deployments, seeing every event (the watch
// resumes where it broke off), and keeps what each rollout did.
type oracle struct {
	ns string

	mu sync.Mutex
	// facts by sha; every rollout of a stream has a sha of its own.
	facts map[string]*rolloutFact
	// current sha of each Deployment, and when it last changed state.
	current    map[string]string
	lastChange map[string]time.Time
	events     int
}

// watchDeployments starts an oracle over ns; it stops when t ends.
func watchDeployments(t *testing.T, ns string) *oracle {
	t.Helper()
	o := &oracle{ns: ns, facts: map[string]*rolloutFact{}, current: map[string]string{}, lastChange: map[string]time.Time{}}
	list, err := clientset.AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return clientset.AppsV1().Deployments(ns).Watch(ctx, opts)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, lw)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				t.Errorf("the Deployment watch of %s failed: %v", ns, ev.Object)
				continue
			}
			if d, ok := ev.Object.(*appsv1.Deployment); ok {
				o.observe(ev.Type, d)
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		cancel()
		<-done
	})
	return o
}

// expect registers a rollout before it is applied.
func (o *oracle) expect(deployment, sha string, kind rolloutKind) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.facts[sha] = &rolloutFact{deployment: deployment, sha: sha, kind: kind, applied: time.Now()}
}

func (o *oracle) observe(typ watch.EventType, d *appsv1.Deployment) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events++
	now := time.Now()
	sha := d.Annotations[gitlabv1alpha1.AnnotationSHA]
	fact := o.facts[sha]
	if fact == nil {
		fact = &rolloutFact{deployment: d.Name, sha: sha, kind: "unregistered", applied: now}
		o.facts[sha] = fact
	}
	if typ == watch.Deleted || !d.DeletionTimestamp.IsZero() {
		if fact.gone.IsZero() {
			fact.gone = now
			o.lastChange[d.Name] = now
		}
		delete(o.current, d.Name)
		return
	}
	if prev := o.current[d.Name]; prev != "" && prev != sha {
		if f := o.facts[prev]; f != nil && f.superseded.IsZero() && f.gone.IsZero() {
			f.superseded = now
			o.lastChange[d.Name] = now
		}
	}
	o.current[d.Name] = sha
	if d.Status.ObservedGeneration < d.Generation || !fact.superseded.IsZero() {
		return
	}
	if complete(d) && fact.completed.IsZero() {
		fact.completed = now
		o.lastChange[d.Name] = now
	}
	if deadlineExceeded(d) && fact.deadline.IsZero() && fact.completed.IsZero() {
		fact.deadline = now
		o.lastChange[d.Name] = now
	}
}

// complete applies kubectl rollout status's rules.
func complete(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
}

func deadlineExceeded(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded"
		}
	}
	return false
}

// fact returns a copy of what the rollout of sha did.
func (o *oracle) fact(sha string) rolloutFact {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f := o.facts[sha]; f != nil {
		return *f
	}
	return rolloutFact{}
}

// changedAt is when the Deployment last completed, failed, was superseded
// or deleted, as the watch saw it.
func (o *oracle) changedAt(deployment string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastChange[deployment]
}

// all returns copies of every rollout's facts, by Deployment then time.
func (o *oracle) all() []rolloutFact {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]rolloutFact, 0, len(o.facts))
	for _, f := range o.facts {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b rolloutFact) int {
		if c := strings.Compare(a.deployment, b.deployment); c != 0 {
			return c
		}
		return a.applied.Compare(b.applied)
	})
	return out
}

// waitFor waits until what holds of the rollout of sha, or timeout passes.
func (o *oracle) waitFor(ctx context.Context, sha string, timeout time.Duration, what func(rolloutFact) bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if what(o.fact(sha)) {
			return true
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return what(o.fact(sha))
}
