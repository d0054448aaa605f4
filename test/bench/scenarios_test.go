package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

const (
	// recordTimeout bounds each wait for rollouts to be recorded.
	recordTimeout = 40 * time.Minute
	// settleQuiet is how long the manager must be idle to count as settled.
	settleQuiet = 3 * time.Second
	// settleTimeout bounds the wait for it.
	settleTimeout = 90 * time.Second
)

// BenchmarkScale2000 runs the 2,000-Deployment scenarios: 200 opted in,
// first seen complete; 50 rollouts paced at 2/s; a burst of 100; a restart
// over the 200 settled rollouts. Run it once: -benchtime=1x.
func BenchmarkScale2000(b *testing.B) {
	for range b.N {
		runSmall(b, small{total: 2000, optedIn: 200, paced: 50, burst: 100})
	}
}

// BenchmarkScale200 is BenchmarkScale2000 at a tenth of the size, to try
// the benchmark itself out in a minute or two.
func BenchmarkScale200(b *testing.B) {
	for range b.N {
		runSmall(b, small{total: 200, optedIn: 20, paced: 5, burst: 10})
	}
}

// BenchmarkScale10000 runs the 10,000-Deployment scenarios: 1,000 opted in,
// each with 9 earlier rollouts in its history (10 with the current one);
// memory settled and through a burst of 1,000 rollouts.
func BenchmarkScale10000(b *testing.B) {
	for range b.N {
		runLarge(b, large{total: 10000, optedIn: 1000, history: 9})
	}
}

// BenchmarkScale1000 is BenchmarkScale10000 at a tenth of the size, to try
// the benchmark itself out.
func BenchmarkScale1000(b *testing.B) {
	for range b.N {
		runLarge(b, large{total: 1000, optedIn: 100, history: 9})
	}
}

// small is the size of the 2,000 scenarios.
type small struct{ total, optedIn, paced, burst int }

func runSmall(b *testing.B, sz small) {
	ctx := b.Context()
	e := newBenchEnv(b, buildBinaries(b))
	e.start(ctx, sz.total, nil)
	name := fmt.Sprintf("%s:", count(sz.total))
	sync := e.syncColumn(ctx, fmt.Sprintf("%s start over %s", name, count(sz.optedIn)), sz.optedIn)
	paced := e.rolloutColumn(ctx, fmt.Sprintf("%s %d paced 2/s", name, sz.paced), seq(0, sz.paced), shaOf(1), 500*time.Millisecond)
	burst := e.rolloutColumn(ctx, fmt.Sprintf("%s burst %s", name, count(sz.burst)), seq(sz.paced, sz.paced+sz.burst), shaOf(2), 0)

	restart := &column{title: fmt.Sprintf("%s restart over %s", name, count(sz.optedIn)), totals: true}
	if err := e.manager.Stop(); err != nil {
		b.Fatal(err)
	}
	from := time.Now()
	if err := e.manager.Start(); err != nil {
		b.Fatal(err)
	}
	sampler := e.sampleMemory(ctx)
	if !e.settle(ctx, 5*time.Second, settleTimeout) {
		restart.notes = append(restart.notes, "the manager did not settle within "+settleTimeout.String())
	}
	restart.peak = sampler.Stop()
	current := map[int]string{}
	for _, r := range []struct {
		ks  []int
		sha string
	}{{seq(0, sz.paced), shaOf(1)}, {seq(sz.paced, sz.paced+sz.burst), shaOf(2)}} {
		for _, k := range r.ks {
			current[k] = r.sha
		}
	}
	if err := e.measure(restart, settledRollouts(sz.optedIn, current), from, time.Now(), false, false); err != nil {
		b.Fatal(err)
	}
	e.resourcesOf(ctx, restart)
	addColumn(restart)
	b.Log("\n" + table([]*column{sync, paced, burst, restart}))
}

// large is the size of the 10,000 scenarios; history is the number of
// earlier rollouts of each opted-in Deployment.
type large struct{ total, optedIn, history int }

func runLarge(b *testing.B, sz large) {
	ctx := b.Context()
	e := newBenchEnv(b, buildBinaries(b))
	e.start(ctx, sz.total, func() error { return e.seedHistory(ctx, sz.optedIn, sz.history) })
	name := count(sz.total) + ":"
	sync := e.syncColumn(ctx, fmt.Sprintf("%s start over %s", name, count(sz.optedIn)), sz.optedIn)
	burst := e.rolloutColumn(ctx, fmt.Sprintf("%s burst %s", name, count(sz.optedIn)), seq(0, sz.optedIn), shaOf(3), 0)
	b.Log("\n" + table([]*column{sync, burst}))
}

// newColumn starts a scenario's column: its title, and the manager's CPU
// time so far (a failure to read it is the column's note, and its CPU row
// stays empty).
func (e *benchEnv) newColumn(title string) *column {
	c := &column{title: title}
	var err error
	if c.cpuFrom, err = readCPU(e.manager.PID()); err != nil {
		c.cpuFrom = -1
		c.notes = append(c.notes, "manager CPU at the start: "+err.Error())
	}
	return c
}

// start creates the Deployments (and, with seed, what else the cluster
// should hold), starts the bare cache and then the manager.
func (e *benchEnv) start(ctx context.Context, total int, seed func() error) {
	created := time.Now()
	if err := e.createDeployments(ctx, total, shaOf(0)); err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Logf("created %d Deployments in %s", total, time.Since(created).Round(time.Millisecond))
	if seed != nil {
		seeded := time.Now()
		if err := seed(); err != nil {
			e.tb.Fatal(err)
		}
		e.tb.Logf("seeded the history in %s", time.Since(seeded).Round(time.Millisecond))
	}
	if err := e.startBare(ctx, buildBinaries(e.tb)); err != nil {
		e.tb.Fatal(err)
	}
	if err := e.manager.Start(); err != nil {
		e.tb.Fatal(err)
	}
}

// syncColumn measures the manager's start over optedIn Deployments whose
// rollouts completed before it started.
func (e *benchEnv) syncColumn(ctx context.Context, title string, optedIn int) *column {
	c := e.newColumn(title)
	from := time.Now()
	rs := settledRollouts(optedIn, nil)
	sampler := e.sampleMemory(ctx)
	if err := e.waitRecorded(ctx, rs, recordTimeout); err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Logf("%s: recorded in %s", title, time.Since(from).Round(time.Millisecond))
	if !e.settle(ctx, settleQuiet, settleTimeout) {
		c.notes = append(c.notes, "the manager did not settle within "+settleTimeout.String())
	}
	c.peak = sampler.Stop()
	if err := e.measure(c, rs, from, time.Now(), false, false); err != nil {
		e.tb.Fatal(err)
	}
	e.resourcesOf(ctx, c)
	addColumn(c)
	return c
}

// rolloutColumn deploys sha to the opted-in Deployments ks (paced by
// interval, or all at once) and measures until they are recorded and the
// manager is idle again.
func (e *benchEnv) rolloutColumn(ctx context.Context, title string, ks []int, sha string, interval time.Duration) *column {
	c := e.newColumn(title)
	from := time.Now()
	sampler := e.sampleMemory(ctx)
	rs, err := e.rollOut(ctx, ks, sha, interval)
	if err != nil {
		e.tb.Fatal(err)
	}
	if err := e.waitRecorded(ctx, rs, recordTimeout); err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Logf("%s: recorded in %s", title, time.Since(from).Round(time.Millisecond))
	if !e.settle(ctx, settleQuiet, settleTimeout) {
		c.notes = append(c.notes, "the manager did not settle within "+settleTimeout.String())
	}
	c.peak = sampler.Stop()
	if err := e.measure(c, rs, from, time.Now(), true, interval == 0); err != nil {
		e.tb.Fatal(err)
	}
	e.resourcesOf(ctx, c)
	addColumn(c)
	return c
}

// settledRollouts are the current rollouts of the first n opted-in
// Deployments: at shaOf(0) unless current gives another commit.
func settledRollouts(n int, current map[int]string) []rollout {
	rs := make([]rollout, n)
	for k := range n {
		s, ok := current[k]
		if !ok {
			s = shaOf(0)
		}
		rs[k] = rollout{key: deploymentKey(optedInIndex(k)), sha: s}
	}
	return rs
}

// count renders n with thousands separated: 10,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// seq is lo, lo+1, …, hi-1.
func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for k := lo; k < hi; k++ {
		out = append(out, k)
	}
	return out
}
