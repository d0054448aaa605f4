package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// rollout is one rollout the benchmark started.
type rollout struct {
	key        types.NamespacedName
	sha        string
	start      time.Time
	generation int64
}

// rollOut deploys sha to the opted-in Deployments ks, one every interval,
// or all at once (from burstWorkers goroutines) when interval is zero.
func (e *benchEnv) rollOut(ctx context.Context, ks []int, sha string, interval time.Duration) ([]rollout, error) {
	out := make([]rollout, len(ks))
	apply := func(j int) error {
		k := ks[j]
		key := deploymentKey(optedInIndex(k))
		out[j] = rollout{key: key, sha: sha}
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d := &appsv1.Deployment{}
			if err := e.k8s.Get(ctx, key, d); err != nil {
				return err
			}
			d.Annotations[gitlabv1alpha1.AnnotationSHA] = sha
			d.Spec.Template.Spec.Containers[0].Image = image(sha)
			if err := e.k8s.Update(ctx, d); err != nil {
				return err
			}
			out[j].start, out[j].generation = time.Now(), d.Generation
			return nil
		})
	}
	if interval == 0 {
		return out, parallel(ctx, len(ks), burstWorkers, apply)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for j := range ks {
		if err := apply(j); err != nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
	}
	return out, nil
}

// burstWorkers is how many rollouts of a burst are started at once.
const burstWorkers = 64

// recordKey identifies a rollout's GitLab record.
type recordKey struct{ env, sha string }

// gitLabTimeline is, per rollout, when its record was first set running and
// success, and how many records it has.
type gitLabTimeline struct {
	running, success map[recordKey]time.Time
	records          map[recordKey]int
}

// timeline reads the fake GitLab's write log and deployments.
func (e *benchEnv) timeline() (*gitLabTimeline, error) {
	recs, err := e.gitLab.Deployments(project, "")
	if err != nil {
		return nil, err
	}
	tl := &gitLabTimeline{running: map[recordKey]time.Time{}, success: map[recordKey]time.Time{}, records: map[recordKey]int{}}
	byID := map[int64]recordKey{}
	for _, r := range recs {
		k := recordKey{r.Environment, r.SHA}
		byID[r.ID] = k
		tl.records[k]++
	}
	for _, w := range e.gitLab.Writes() {
		if w.Code < 200 || w.Code > 299 {
			continue
		}
		k := recordKey{w.Environment, w.SHA}
		if w.Method == http.MethodPut {
			k = byID[w.ID]
		}
		var m map[recordKey]time.Time
		switch w.Status {
		case "running":
			m = tl.running
		case "success":
			m = tl.success
		default:
			continue
		}
		if _, seen := m[k]; !seen {
			m[k] = w.Time
		}
	}
	return tl, nil
}

// recorded counts the rollouts with a record set running, and success.
func (e *benchEnv) recorded(rs []rollout) (running, success int) {
	e.gitLab.mu.Lock()
	n := len(e.gitLab.writes)
	e.gitLab.mu.Unlock()
	if n == 0 {
		return 0, 0
	}
	tl, err := e.timeline()
	if err != nil {
		return 0, 0
	}
	for _, r := range rs {
		k := recordKey{environment(r.key), r.sha}
		if _, ok := tl.running[k]; ok {
			running++
		}
		if _, ok := tl.success[k]; ok {
			success++
		}
	}
	return running, success
}

// waitRecorded waits until every rollout is recorded success in GitLab,
// saying every 10 s how far the cluster and the manager are.
func (e *benchEnv) waitRecorded(ctx context.Context, rs []rollout, timeout time.Duration) error {
	last, logged := -1, time.Now()
	// Once a second: the times come from the fake's log, not from here, and
	// reading all of GitLab's records is not free with 10,000 of them.
	return pollEvery(ctx, time.Second, timeout, fmt.Sprintf("%d rollouts recorded success", len(rs)), func() bool {
		running, n := e.recorded(rs)
		if n == len(rs) || (n != last && time.Since(logged) >= 10*time.Second) {
			last, logged = n, time.Now()
			e.tb.Logf("%d of %d rollouts recorded success (%d running, %d complete); %s",
				n, len(rs), running, e.completed(rs), e.workQueues(ctx))
		}
		return n == len(rs)
	})
}

// completed counts the rollouts the cluster has completed.
func (e *benchEnv) completed(rs []rollout) int {
	done := 0
	for _, r := range rs {
		if _, ok := e.watch.completedAt(r.key, r.generation); ok {
			done++
		}
	}
	return done
}

// workQueues says, per controller of the manager, how many items wait in
// its work queue, how many workers are busy and how many reconciles it
// has done.
func (e *benchEnv) workQueues(ctx context.Context) string {
	type queue struct{ depth, active, reconciles float64 }
	qs := map[string]*queue{}
	at := func(series, label string) *queue {
		_, rest, ok := strings.Cut(series, label+`="`)
		if !ok {
			return nil
		}
		name, _, _ := strings.Cut(rest, `"`)
		if qs[name] == nil {
			qs[name] = &queue{}
		}
		return qs[name]
	}
	err := e.scrapeSeries(ctx, func(series string, v float64) {
		switch {
		case strings.HasPrefix(series, "workqueue_depth{"):
			if q := at(series, "name"); q != nil {
				q.depth += v
			}
		case strings.HasPrefix(series, "controller_runtime_active_workers{"):
			if q := at(series, "controller"); q != nil {
				q.active += v
			}
		case strings.HasPrefix(series, "controller_runtime_reconcile_total{"):
			if q := at(series, "controller"); q != nil {
				q.reconciles += v
			}
		}
	})
	if err != nil {
		return "metrics: " + err.Error()
	}
	names := slices.Sorted(maps.Keys(qs))
	parts := make([]string, 0, len(names))
	for _, name := range names {
		q := qs[name]
		parts = append(parts, fmt.Sprintf("%s: %.0f queued, %.0f busy, %.0f reconciles", name, q.depth, q.active, q.reconciles))
	}
	return strings.Join(parts, "; ")
}

// memory is a process's memory in bytes.
type memory struct {
	HWM, RSS, Anon, Heap int64
}

// readMemory reads VmHWM, VmRSS and RssAnon of a process.
func readMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmHWM":
			m.HWM = kib << 10
		case "VmRSS":
			m.RSS = kib << 10
		case "RssAnon":
			m.Anon = kib << 10
		}
	}
	return m, nil
}

// userHZ is the unit of the CPU times of /proc/<pid>/stat (USER_HZ, 100
// on Linux whatever the kernel's tick).
const userHZ = 100

// readCPU reads the CPU time a process has used, user and system.
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command may hold spaces; the fields after it are numbers.
	_, rest, ok := bytes.Cut(data, []byte(") "))
	if !ok {
		return 0, fmt.Errorf("reading /proc/%d/stat: no command", pid)
	}
	fields := strings.Fields(string(rest))
	if len(fields) < 13 {
		return 0, fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(fields))
	}
	// utime and stime: fields 14 and 15 of the line, 12 and 13 after the
	// command (state is the first).
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// managerMemory reads the manager's memory and Go heap in use.
func (e *benchEnv) managerMemory(ctx context.Context) (memory, error) {
	m, err := readMemory(e.manager.PID())
	if err != nil {
		return m, err
	}
	metrics, err := e.scrape(ctx)
	if err != nil {
		return m, err
	}
	m.Heap = int64(metrics["go_memstats_heap_inuse_bytes"])
	return m, nil
}

// memorySampler records the largest RSS and anonymous RSS of the manager,
// twice a second from /proc, and its largest Go heap in use, from its
// metrics endpoint every heapEvery, until stopped.
type memorySampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak memory
}

// heapEvery is how often the sampler scrapes the manager's metrics: as a
// Prometheus scraping every 15 s would. Each scrape costs the manager one
// series per rollout, which at two a second would be a fifth of what it
// allocates in a burst, and would weigh on the memory measured.
const heapEvery = 15 * time.Second

func (e *benchEnv) sampleMemory(ctx context.Context) *memorySampler {
	s := &memorySampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		var scraped time.Time
		for {
			if m, err := readMemory(e.manager.PID()); err == nil {
				if time.Since(scraped) >= heapEvery {
					scraped = time.Now()
					if metrics, err := e.scrape(ctx); err == nil {
						m.Heap = int64(metrics["go_memstats_heap_inuse_bytes"])
					}
				}
				s.mu.Lock()
				s.peak = memory{HWM: max(s.peak.HWM, m.HWM), RSS: max(s.peak.RSS, m.RSS),
					Anon: max(s.peak.Anon, m.Anon), Heap: max(s.peak.Heap, m.Heap)}
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peaks.
func (s *memorySampler) Stop() memory {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// scrape reads the manager's metrics, summing each metric's series.
func (e *benchEnv) scrape(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	err := e.scrapeSeries(ctx, func(series string, v float64) {
		if b := strings.IndexByte(series, '{'); b >= 0 {
			series = series[:b]
		}
		out[series] += v
	})
	return out, err
}

// scrapeSeries reads the manager's metrics and hands each series, with its
// labels, to fn.
func (e *benchEnv) scrapeSeries(ctx context.Context, fn func(series string, v float64)) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metricsURL, nil)
	if err != nil {
		return err
	}
	// Uncompressed: the benchmark's settle scrapes five times a second,
	// which would keep the metrics handler's gzip compressors (about 1 MiB
	// each) alive in the manager's heap between scrapes; Prometheus scrapes
	// every 15 to 60 s, and the compressor is collected in between.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil {
			fn(line[:sp], v)
		}
	}
	return sc.Err()
}

// settle waits until the manager is idle: its work queues empty and no
// reconcile for quiet, after at least one reconcile since it started (or,
// for a manager with nothing to reconcile, settleFloor). It returns false
// if that did not happen within timeout.
func (e *benchEnv) settle(ctx context.Context, quiet, timeout time.Duration) bool {
	var last float64 = -1
	begin, since := time.Now(), time.Now()
	err := poll(ctx, timeout, "idle manager", func() bool {
		m, err := e.scrape(ctx)
		if err != nil {
			return false
		}
		total := m["controller_runtime_reconcile_total"]
		if total != last || m["workqueue_depth"] > 0 {
			last, since = total, time.Now()
			return false
		}
		return time.Since(since) >= quiet && (total > 0 || time.Since(begin) >= settleFloor)
	})
	return err == nil
}

// settleFloor is how long a manager that reconciles nothing is watched
// before it counts as settled.
const settleFloor = 20 * time.Second

// percentiles returns p50, p90, p99 and the maximum, by nearest rank.
func percentiles(ds []time.Duration) [4]time.Duration {
	if len(ds) == 0 {
		return [4]time.Duration{-1, -1, -1, -1}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return [4]time.Duration{at(0.50), at(0.90), at(0.99), s[len(s)-1]}
}
