package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// TestCrashes rolls out a stream of commits over the Deployments while the
// manager is SIGKILLed at random moments, some right after GitLab took a
// POST or a PUT whose answer was lost, then restarts it over the settled
// rollouts. Promises: no duplicate, no record left running, every final
// status what the Deployment did, and a restart over settled state makes no
// GitLab request and no GitLabDeployment write.
func TestCrashes(t *testing.T) {
	mgr := startManager(t, "manager", nil)
	s := newStream(t, "crash", params.Deployments, mgr)
	begin := time.Now()

	killer := &crasher{mgr: mgr, project: s.project}
	var wg sync.WaitGroup
	wg.Go(func() { killer.run(t, params.Kills) })
	// Spread the rollouts over the time the kills take (up, then down for
	// a second on average), so that every kill hits a busy manager.
	s.run(t.Context(), params.CrashRollouts, time.Duration(params.Kills)*((params.MinUp+params.MaxUp)/2+time.Second)*5/4)
	// Keep killing until the count is reached, then leave the manager up.
	wg.Wait()
	if !mgr.Running() {
		if err := mgr.start(); err != nil {
			t.Fatal(err)
		}
	}
	streamEnd := time.Now()
	v, catchUp := settle(t, s.oracle, s.project, streamEnd)

	rows := s.kindRows()
	rows = append(rows, [][2]string{
		{"manager SIGKILLs", fmt.Sprint(killer.kills)},
		{"  of them right after a POST whose answer was lost", fmt.Sprint(killer.afterLostPost)},
		{"  of them right after a PUT whose answer was lost", fmt.Sprint(killer.afterLostPut)},
		{"stream duration", streamEnd.Sub(begin).Round(time.Second).String()},
		{"time to settle after the stream and the kills", catchUpString(v, catchUp)},
	}...)
	rows = append(rows, verdictRows(v)...)
	writes := requests(s.project, begin, time.Time{}, isWrite)
	rows = append(rows, [2]string{"GitLab writes (POST+PUT) per rollout",
		fmt.Sprintf("%.2f", float64(len(writes))/float64(max(v.rollouts, 1)))})

	restartRows := restartOverSettled(t, mgr, s)
	logTable(t, "Crashes: "+t.Name(), append(rows, restartRows...))
	assertVerdict(t, v)
	if killer.kills < params.Kills {
		t.Errorf("the manager was killed %d times, want %d", killer.kills, params.Kills)
	}
	if params.Kills >= 4 && (killer.afterLostPost == 0 || killer.afterLostPut == 0) {
		t.Errorf("the test did not manage to kill the manager right after a lost POST answer (%d) and a lost PUT answer (%d)",
			killer.afterLostPost, killer.afterLostPut)
	}
}

// crasher kills the manager at random moments and starts it again.
type crasher struct {
	mgr     *manager
	project string

	kills, afterLostPost, afterLostPut int
}

func (c *crasher) run(t *testing.T, n int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 20)) //nolint:gosec // test randomness
	for i := range n {
		up := c.mgr.upSince()
		wait := params.MinUp + time.Duration(rng.Int64N(int64(params.MaxUp-params.MinUp)+1))
		sleepUntil(context.Background(), up.Add(wait))
		switch i % 4 {
		case 1:
			if c.killAfterLostAnswer(t, http.MethodPost, gitlabtest.EndpointCreate) {
				c.afterLostPost++
			}
		case 3:
			if c.killAfterLostAnswer(t, http.MethodPut, gitlabtest.EndpointUpdate) {
				c.afterLostPut++
			}
		}
		if c.mgr.Running() {
			if err := c.mgr.kill(); err != nil {
				t.Error(err)
				return
			}
		}
		c.kills++
		// Down for up to two seconds, as a crash loop or a rescheduled pod.
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second)))) //nolint:forbidigo // the fault itself: the manager stays down this long
		if err := c.mgr.start(); err != nil {
			t.Error(err)
			return
		}
	}
}

// killAfterLostAnswer arms the fake to lose the answer of the next request
// to endpoint and kills the manager as soon as GitLab served it. It gives
// up after 20 seconds without such a request (the manager is then killed
// all the same).
func (c *crasher) killAfterLostAnswer(t *testing.T, method, endpoint string) bool {
	armed := time.Now()
	id := gitLab.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultLoseAnswer, Method: method, Endpoint: endpoint, Count: 1})
	defer gitLab.RemoveFault(id)
	served := waitUntil(t.Context(), 5*time.Millisecond, 20*time.Second, func() bool {
		return len(requests(c.project, armed, time.Time{}, func(r gitlabtest.Request) bool {
			return r.Endpoint == endpoint && strings.Contains(r.Fault, string(gitlabtest.FaultLoseAnswer))
		})) > 0
	})
	if served {
		if err := c.mgr.kill(); err != nil {
			t.Error(err)
		}
		return true
	}
	t.Logf("no %s within 20s to lose the answer of; killing the manager anyway", endpoint)
	return false
}

// restartOverSettled stops and starts the manager once every rollout
// settled, and checks that it sends nothing to GitLab and writes no
// GitLabDeployment: a sentinel rollout in another namespace shows that the
// restarted manager has worked through its queue.
func restartOverSettled(t *testing.T, mgr *manager, s *stream) [][2]string {
	t.Helper()
	// The records can be right while rollgate still has work in flight: a
	// record whose POST answer was lost is in GitLab, but rollgate adopts
	// it only once the POST must have landed. Settled means that is done.
	waited := time.Now()
	if !waitUntil(t.Context(), 200*time.Millisecond, params.Settle, func() bool { return pendingIntents(t, s.ns) == 0 }) {
		t.Errorf("%d GitLabDeployments still wait for an unanswered GitLab write after %s", pendingIntents(t, s.ns), params.Settle)
	}
	pending := time.Since(waited)
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := k8s.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	w, err := k8s.Watch(t.Context(), &gitlabv1alpha1.GitLabDeploymentList{},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var writes []string
	stopped := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			mu.Lock()
			if obj, ok := ev.Object.(*gitlabv1alpha1.GitLabDeployment); ok && obj.Namespace == s.ns {
				writes = append(writes, fmt.Sprintf("%s %s rv %s: %s", ev.Type, obj.Name, obj.ResourceVersion, statusLine(obj)))
			} else if ev.Type == watch.Error && !stopped {
				t.Errorf("the GitLabDeployment watch failed, so writes may have been missed: %v", ev.Object)
			}
			mu.Unlock()
		}
	}()

	if err := mgr.stop(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if err := mgr.start(); err != nil {
		t.Fatal(err)
	}
	sentinel := newStream(t, "sentinel", 1, nil)
	sentinel.run(t.Context(), 1, 0)
	sv, _ := settle(t, sentinel.oracle, sentinel.project, time.Now())
	if !sv.clean() {
		t.Errorf("the sentinel rollout after the restart was not recorded right: %+v", sv)
	}
	// A moment more for anything queued behind the sentinel: what is
	// measured is that nothing is written in this window.
	time.Sleep(3 * time.Second) //nolint:forbidigo // an observation window, not a wait for a condition
	mu.Lock()
	stopped = true
	mu.Unlock()
	w.Stop()
	<-done
	reqs := requests(s.project, restarted, time.Time{}, nil)
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) > 0 {
		lines := make([]string, 0, len(reqs))
		for _, r := range reqs {
			lines = append(lines, fmt.Sprintf("%s %s %s -> %d", r.Time.Format("15:04:05.000"), r.Method, r.Path, r.Status))
		}
		t.Errorf("restart over settled rollouts: %d GitLab requests, want 0:\n\t%s", len(reqs), strings.Join(lines, "\n\t"))
	}
	if len(writes) > 0 {
		t.Errorf("restart over settled rollouts: %d GitLabDeployment writes, want 0:\n\t%s", len(writes), strings.Join(writes, "\n\t"))
	}
	return [][2]string{
		{"wait for unanswered writes to be adopted before the restart", pending.Round(100 * time.Millisecond).String()},
		{"restart over settled state: GitLab requests", fmt.Sprint(len(reqs))},
		{"restart over settled state: GitLabDeployment writes", fmt.Sprint(len(writes))},
	}
}

// waitUntil checks cond every interval until it holds (true), timeout
// passes or ctx ends (false).
func waitUntil(ctx context.Context, interval, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// statusLine summarises a GitLabDeployment's status for a failure message.
func statusLine(gld *gitlabv1alpha1.GitLabDeployment) string {
	st := &gld.Status
	var b strings.Builder
	fmt.Fprintf(&b, "deleting=%t phase=%s record={id:%d status:%s intent:%s} rollout={%s %d/%d}",
		!gld.DeletionTimestamp.IsZero(), st.Phase, st.Record.ID, st.Record.Status, st.Record.Intent,
		st.Rollout.Reason, st.Rollout.UpdatedReplicas, st.Rollout.Replicas)
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, " %s=%s/%s", c.Type, c.Status, c.Reason)
	}
	return b.String()
}
