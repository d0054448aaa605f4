package bench

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// column is one scenario's measurements: a column of the table.
type column struct {
	title string
	// rollouts is how many rollouts the scenario made; totals says that its
	// request counts are totals, not per rollout (the restart).
	rollouts int
	totals   bool
	// gitLab counts GitLab API requests by method; duplicates is the number
	// of extra records (two records for one rollout count one).
	gitLab     map[string]int
	duplicates int
	// kube counts the manager's Kubernetes requests by "verb resource", with
	// " (404)" for those answered Not Found and " (409)" for conflicts.
	kube map[string]int
	// latencies: complete → success and start → running.
	completeToSuccess, startToRunning []time.Duration
	// never is how many rollouts were never recorded running, of all and of
	// the slow ones (≥ 2 s from start to complete); latencies says that the
	// scenario started its rollouts, so that these rows apply.
	never, slowNever, slowCount int
	latencies                   bool
	// recordedRate and clusterRate are rollouts per second, for bursts.
	recordedRate, clusterRate float64
	// own and ownStatus are, per rollout whose GitLabDeployment the manager
	// created in the scenario, its writes to that GitLabDeployment (and of
	// them, status writes) until its merge requests were read: what it took
	// to record the rollout (ownWrites).
	own, ownStatus []int
	// mem is the manager's memory at the end, peak the largest sampled
	// during the scenario; bare is the bare cache's.
	mem, peak, bare memory
	// cpuFrom is the manager's CPU time when the scenario started (0 for a
	// manager started with it, -1 if it could not be read), cpu what it used
	// during the scenario (0 if unknown).
	cpuFrom, cpu time.Duration
	notes        []string
}

// lateSuccess is how long after its completion a rollout's success must
// be recorded for the benchmark to name it in its log.
const lateSuccess = time.Second

// slowRollout is how long a rollout must take to complete for GitLab to
// be expected to see it running.
const slowRollout = 2 * time.Second

// results collects the columns of every scenario run, in order.
var results struct {
	sync.Mutex
	columns []*column
}

func addColumn(c *column) {
	results.Lock()
	defer results.Unlock()
	results.columns = append(results.columns, c)
}

// measure fills a column from what happened between from and to: the fake
// GitLab's logs, the audit log, the completion watch.
func (e *benchEnv) measure(c *column, rs []rollout, from, to time.Time, latencies, burst bool) error {
	c.rollouts, c.latencies = len(rs), latencies
	c.gitLab, c.kube = map[string]int{}, map[string]int{}
	for _, r := range e.gitLab.Requests() {
		if !r.Time.Before(from) && !r.Time.After(to) {
			c.gitLab[r.Method]++
		}
	}
	events, err := e.cluster.ReadAudit()
	if err != nil {
		return err
	}
	for i := range events {
		ev := &events[i]
		if ev.User.Username != managerUser || ev.Received.Before(from) || ev.Received.After(to) {
			continue
		}
		resource := ev.Resource()
		if resource == "" { // discovery and other paths
			resource, _, _ = strings.Cut(ev.URI, "?")
		}
		key := ev.Verb + " " + resource
		c.kube[key]++
		switch ev.ResponseStatus.Code {
		case http.StatusNotFound:
			c.kube[key+" (404)"]++
		case http.StatusConflict:
			c.kube[key+" (409)"]++
		}
	}
	tl, err := e.timeline()
	if err != nil {
		return err
	}
	if c.own, c.ownStatus, err = e.ownWrites(rs, events, from, to); err != nil {
		return err
	}
	var lastSuccess, lastComplete, first time.Time
	for _, r := range rs {
		k := recordKey{environment(r.key), r.sha}
		c.duplicates += max(tl.records[k]-1, 0)
		running, hasRunning := tl.running[k]
		success, hasSuccess := tl.success[k]
		complete, hasComplete := e.watch.completedAt(r.key, r.generation)
		if !latencies {
			continue
		}
		if !hasRunning {
			c.never++
		}
		if hasComplete && complete.Sub(r.start) >= slowRollout {
			c.slowCount++
			if !hasRunning {
				c.slowNever++
			}
		}
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if hasRunning {
			c.startToRunning = append(c.startToRunning, running.Sub(r.start))
		}
		if hasSuccess && hasComplete {
			c.completeToSuccess = append(c.completeToSuccess, success.Sub(complete))
			if late := success.Sub(complete); late > lateSuccess {
				e.tb.Logf("%s: %s at %s recorded success %s after it completed (at %s)", c.title, r.key, r.sha[:12],
					late.Round(time.Millisecond), complete.Format("15:04:05.000"))
			}
		}
		if success.After(lastSuccess) {
			lastSuccess = success
		}
		if complete.After(lastComplete) {
			lastComplete = complete
		}
	}
	if burst && len(rs) > 1 {
		c.recordedRate = float64(len(rs)) / lastSuccess.Sub(first).Seconds()
		c.clusterRate = float64(len(rs)) / lastComplete.Sub(first).Seconds()
	}
	return nil
}

// ownWrites counts, for each rollout of rs whose GitLabDeployment the
// manager created between from and to, the manager's writes to that
// GitLabDeployment from then until its record's merge requests were read
// (ShippedDelay after success; to, if not yet): the writes that record the
// rollout, without the one that adds its merge requests. It returns them,
// and the status writes among them, one entry per such rollout.
func (e *benchEnv) ownWrites(rs []rollout, events []localcluster.AuditEvent, from, to time.Time) (all, status []int, err error) {
	var glds gitlabv1alpha1.GitLabDeploymentList
	if err := e.k8s.List(e.tb.Context(), &glds); err != nil {
		return nil, nil, fmt.Errorf("listing GitLabDeployments: %w", err)
	}
	type rolloutKey struct{ namespace, deployment, sha string }
	name := map[rolloutKey]types.NamespacedName{}
	record := map[types.NamespacedName]int64{}
	for i := range glds.Items {
		g := &glds.Items[i]
		key := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
		name[rolloutKey{g.Namespace, g.Spec.WorkloadRef.Name, g.Spec.SHA}] = key
		record[key] = g.Status.Record.ID
	}
	// When each record's merge requests were first read.
	mergeRequestsRead := map[int64]time.Time{}
	for _, r := range e.gitLab.Requests() {
		rest, ok := strings.CutSuffix(r.Path, "/merge_requests")
		if !ok || r.Method != http.MethodGet {
			continue
		}
		id, perr := strconv.ParseInt(rest[strings.LastIndexByte(rest, '/')+1:], 10, 64)
		if _, seen := mergeRequestsRead[id]; perr == nil && !seen {
			mergeRequestsRead[id] = r.Time
		}
	}
	mine := map[types.NamespacedName]bool{}
	for _, r := range rs {
		if key, ok := name[rolloutKey{r.key.Namespace, r.key.Name, r.sha}]; ok {
			mine[key] = true
		}
	}
	created := map[types.NamespacedName]bool{}
	writes, statusWrites := map[types.NamespacedName]int{}, map[types.NamespacedName]int{}
	for i := range events {
		ev := &events[i]
		if ev.User.Username != managerUser || ev.ObjectRef.Resource != "gitlabdeployments" ||
			ev.ResponseStatus.Code >= 300 || ev.Received.Before(from) || ev.Received.After(to) {
			continue
		}
		key := types.NamespacedName{Namespace: ev.ObjectRef.Namespace, Name: ev.ObjectRef.Name}
		if !mine[key] || !slices.Contains([]string{"create", "update", "patch"}, ev.Verb) {
			continue
		}
		if ev.Verb == "create" {
			created[key] = true
		}
		if read, ok := mergeRequestsRead[record[key]]; ok && ev.Received.After(read) {
			continue
		}
		writes[key]++
		if ev.ObjectRef.Subresource == "status" {
			statusWrites[key]++
		}
	}
	for _, key := range slices.SortedFunc(maps.Keys(created), func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	}) {
		all, status = append(all, writes[key]), append(status, statusWrites[key])
	}
	return all, status, nil
}

// resourcesOf fills the resource rows: the manager's CPU time over the
// scenario, its memory now, and the bare cache's memory.
func (e *benchEnv) resourcesOf(ctx context.Context, c *column) {
	var err error
	if cpu, err := readCPU(e.manager.PID()); err != nil {
		c.notes = append(c.notes, "manager CPU: "+err.Error())
	} else if c.cpuFrom >= 0 {
		c.cpu = cpu - c.cpuFrom
	}
	if c.mem, err = e.managerMemory(ctx); err != nil {
		c.notes = append(c.notes, "manager memory: "+err.Error())
	}
	c.peak = memory{HWM: max(c.peak.HWM, c.mem.HWM), RSS: max(c.peak.RSS, c.mem.RSS),
		Anon: max(c.peak.Anon, c.mem.Anon), Heap: max(c.peak.Heap, c.mem.Heap)}
	if c.bare, err = readMemory(e.bare.PID()); err != nil {
		c.notes = append(c.notes, "bare cache memory: "+err.Error())
	}
}

// table renders the columns as one markdown table.
func table(cols []*column) string {
	var b strings.Builder
	row := func(name string, cell func(c *column) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", cell(c))
		}
		b.WriteByte('\n')
	}
	row("scenario", func(c *column) string { return c.title })
	b.WriteString("| --- |" + strings.Repeat(" --: |", len(cols)) + "\n")
	row("rollouts", func(c *column) string { return fmt.Sprint(c.rollouts) })
	perRollout := func(c *column, n int) string {
		switch {
		case n == 0:
			return "0"
		case c.totals || c.rollouts == 0:
			return fmt.Sprintf("Σ %d", n)
		default:
			return fmt.Sprintf("%.2f", float64(n)/float64(c.rollouts))
		}
	}
	methods := map[string]bool{}
	kinds := map[string]bool{}
	for _, c := range cols {
		for m := range c.gitLab {
			methods[m] = true
		}
		for k := range c.kube {
			kinds[k] = true
		}
	}
	for _, m := range slices.Sorted(maps.Keys(methods)) {
		row("GitLab "+m+" per rollout", func(c *column) string { return perRollout(c, c.gitLab[m]) })
	}
	row("GitLab duplicate records", func(c *column) string { return fmt.Sprint(c.duplicates) })
	row("Kubernetes writes per rollout", func(c *column) string {
		n := 0
		for k, v := range c.kube {
			verb, _, _ := strings.Cut(k, " ")
			// A review (selfsubjectreviews, …) is a question, not a write;
			// "… (404)" and "… (409)" count again requests of another row.
			if !strings.HasSuffix(k, ")") && !strings.HasSuffix(k, "reviews") &&
				slices.Contains([]string{"create", "update", "patch", "delete", "deletecollection"}, verb) {
				n += v
			}
		}
		return perRollout(c, n)
	})
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		row("Kubernetes "+k, func(c *column) string { return perRollout(c, c.kube[k]) })
	}
	meanMax := func(ns []int) string {
		if len(ns) == 0 {
			return "–"
		}
		sum := 0
		for _, n := range ns {
			sum += n
		}
		return fmt.Sprintf("%.2f / %d", float64(sum)/float64(len(ns)), slices.Max(ns))
	}
	row("Kubernetes writes to a rollout's own GitLabDeployment until recorded: mean / max", func(c *column) string { return meanMax(c.own) })
	row("of them status writes: mean / max", func(c *column) string { return meanMax(c.ownStatus) })
	lat := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "–"
		}
		p := percentiles(ds)
		return fmt.Sprintf("%s / %s / %s / %s", ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
	}
	row("complete → success p50 / p90 / p99 / max", func(c *column) string { return lat(c.completeToSuccess) })
	row("start → running p50 / p90 / p99 / max", func(c *column) string { return lat(c.startToRunning) })
	row("never recorded running: of those ≥ 2 s / of all", func(c *column) string {
		if !c.latencies {
			return "–"
		}
		return fmt.Sprintf("%d of %d / %d of %d", c.slowNever, c.slowCount, c.never, c.rollouts)
	})
	rate := func(r float64) string {
		if r == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", r)
	}
	row("rollouts recorded per second", func(c *column) string { return rate(c.recordedRate) })
	row("cluster: Deployments completed per second", func(c *column) string { return rate(c.clusterRate) })
	row("bound by", func(c *column) string {
		switch {
		case c.recordedRate == 0:
			return "–"
		case c.recordedRate >= 0.9*c.clusterRate:
			return "cluster"
		default:
			return "rollgate"
		}
	})
	mib := func(n int64) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", float64(n)/(1<<20))
	}
	ratio := func(a, b int64) string {
		if a == 0 || b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	row("manager CPU s: total / per rollout", func(c *column) string {
		if c.cpu <= 0 || c.rollouts == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f / %.3f", c.cpu.Seconds(), c.cpu.Seconds()/float64(c.rollouts))
	})
	row("manager VmHWM MiB", func(c *column) string { return mib(c.mem.HWM) })
	row("manager VmRSS MiB (end / peak)", func(c *column) string { return mib(c.mem.RSS) + " / " + mib(c.peak.RSS) })
	row("manager RssAnon MiB (end / peak)", func(c *column) string { return mib(c.mem.Anon) + " / " + mib(c.peak.Anon) })
	row("manager Go heap in use MiB (end / peak)", func(c *column) string { return mib(c.mem.Heap) + " / " + mib(c.peak.Heap) })
	row("bare cache VmHWM / RssAnon MiB", func(c *column) string { return mib(c.bare.HWM) + " / " + mib(c.bare.Anon) })
	row("manager / bare: VmHWM, RssAnon", func(c *column) string {
		return ratio(c.mem.HWM, c.bare.HWM) + ", " + ratio(max(c.mem.Anon, c.peak.Anon), c.bare.Anon)
	})
	for _, c := range cols {
		for _, n := range c.notes {
			fmt.Fprintf(&b, "\n- %s: %s", c.title, n)
		}
	}
	return b.String()
}

// ms renders a duration in milliseconds below 10 s, else in seconds.
func ms(d time.Duration) string {
	if d < 10*time.Second && d > -10*time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
