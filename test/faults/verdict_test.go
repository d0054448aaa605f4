package faults

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// verdict compares GitLab's records with what the Deployments did.
type verdict struct {
	rollouts, records int
	// byWant counts the rollouts by the status their record must have.
	byWant map[string]int
	// duplicates: two or more records of one rollout.
	duplicates []string
	// leftRunning: a record still running (or created) whose rollout ended.
	leftRunning []string
	// wrong: a record whose final status is not what the rollout did, or no
	// record of a rollout that completed or failed.
	wrong []string
	// unrecorded: rollouts replaced or deleted before they finished that
	// have no record; rollgate does not report a rollout it never reported
	// while it ran, so this is a figure, not a failure.
	unrecorded int
	// unknown: records of no rollout of the stream.
	unknown []string
}

func (v verdict) clean() bool {
	return len(v.duplicates)+len(v.leftRunning)+len(v.wrong)+len(v.unknown) == 0
}

// judge compares project's records with the oracle's facts. Each
// Deployment records to the environment of its name.
func judge(o *oracle, project string) verdict {
	recs, err := gitLab.Deployments(project, "")
	if err != nil {
		return verdict{unknown: []string{"listing records: " + err.Error()}}
	}
	bySHA := map[string][]gitlabtest.Deployment{}
	for _, r := range recs {
		bySHA[r.SHA] = append(bySHA[r.SHA], r)
	}
	v := verdict{records: len(recs), byWant: map[string]int{}}
	facts := o.all()
	known := map[string]bool{}
	for _, f := range facts {
		known[f.sha] = true
		want := f.want()
		v.rollouts++
		v.byWant[want]++
		got := bySHA[f.sha]
		statuses := make([]string, 0, len(got))
		for _, r := range got {
			statuses = append(statuses, fmt.Sprintf("#%d %s in %s", r.ID, r.Status, r.Environment))
		}
		line := fmt.Sprintf("Deployment %s rollout %s (%s): want %s, GitLab has [%s]",
			f.deployment, short(f.sha), f.story(), want, strings.Join(statuses, ", "))
		switch {
		case len(got) > 1:
			v.duplicates = append(v.duplicates, line)
		case len(got) == 0 && want == gitlab.StatusCanceled:
			v.unrecorded++
		case len(got) == 0:
			v.wrong = append(v.wrong, line)
		case got[0].Environment != f.deployment:
			v.wrong = append(v.wrong, line)
		case want != gitlab.StatusRunning && (got[0].Status == gitlab.StatusRunning || got[0].Status == gitlab.StatusCreated):
			v.leftRunning = append(v.leftRunning, line)
		case got[0].Status != want:
			v.wrong = append(v.wrong, line)
		}
	}
	for _, r := range recs {
		if !known[r.SHA] {
			v.unknown = append(v.unknown, fmt.Sprintf("record #%d of sha %s in %s (%s)", r.ID, short(r.SHA), r.Environment, r.Status))
		}
	}
	return v
}

// short is the end of a suite sha: they all start with zeros.
func short(sha string) string {
	if len(sha) > 10 {
		return "…" + sha[len(sha)-10:]
	}
	return sha
}

// settle waits, after the faults ended at since, until the records are
// right, or until nothing was written to GitLab and the verdict did not
// change for params.Quiet while no GitLabDeployment has a write pending (an
// intent: e.g. a lost POST waiting to be adopted), or params.Settle passed. It returns the last
// verdict and the catch-up time: since until the records were right, or
// until the last write if they never were.
func settle(t *testing.T, o *oracle, project string, since time.Time) (verdict, time.Duration) {
	t.Helper()
	deadline := since.Add(params.Settle)
	var last string
	lastChange := time.Now()
	for {
		v := judge(o, project)
		if v.clean() {
			return v, time.Since(since)
		}
		writes := requests(project, since, time.Time{}, isWrite)
		lastWrite := since
		if len(writes) > 0 {
			lastWrite = writes[len(writes)-1].Time
		}
		if s := v.summary(); s != last {
			last, lastChange = s, time.Now()
		}
		quietSince := lastWrite
		if lastChange.After(quietSince) {
			quietSince = lastChange
		}
		quiet := time.Since(quietSince) >= params.Quiet && pendingIntents(t, o.ns) == 0
		if quiet || time.Now().After(deadline) {
			return v, lastWrite.Sub(since)
		}
		// Quiet is measured over time: nothing written for params.Quiet.
		time.Sleep(time.Second) //nolint:forbidigo // sampling GitLab's request log for a quiet period, which has no event to wait for
	}
}

// catchUpString shows a catch-up time, saying when the records never
// became right (it is then the time until the last write).
func catchUpString(v verdict, d time.Duration) string {
	s := d.Round(100 * time.Millisecond).String()
	if !v.clean() {
		s += " (until the last write; the records never became right)"
	}
	return s
}

// pendingIntents counts the GitLabDeployments in ns with an intent: a
// GitLab write rollgate has yet to confirm.
func pendingIntents(t *testing.T, ns string) int {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := k8s.List(t.Context(), &list, client.InNamespace(ns)); err != nil {
		return 1
	}
	n := 0
	for _, gld := range list.Items {
		if gld.Status.Record.Intent != "" {
			n++
		}
	}
	return n
}

func (v verdict) summary() string {
	return fmt.Sprintf("%d/%d/%d/%d/%d/%d", v.records, len(v.duplicates), len(v.leftRunning), len(v.wrong), v.unrecorded, len(v.unknown))
}

// assertVerdict fails t with one line per broken promise.
func assertVerdict(t *testing.T, v verdict) {
	t.Helper()
	report := func(what string, lines []string) {
		if len(lines) == 0 {
			return
		}
		t.Errorf("%d %s (want 0):\n\t%s", len(lines), what, strings.Join(lines, "\n\t"))
	}
	report("rollouts with duplicate GitLab records", v.duplicates)
	report("records left running after their rollout ended", v.leftRunning)
	report("rollouts whose record's final status is not what the Deployment did", v.wrong)
	report("records of no rollout", v.unknown)
}

// verdictRows are the figures of a verdict, for a table.
func verdictRows(v verdict) [][2]string {
	want := make([]string, 0, len(v.byWant))
	for _, s := range []string{gitlab.StatusSuccess, gitlab.StatusFailed, gitlab.StatusCanceled, gitlab.StatusRunning} {
		if n := v.byWant[s]; n > 0 {
			want = append(want, fmt.Sprintf("%d %s", n, s))
		}
	}
	return [][2]string{
		{"rollouts (what the Deployments did)", fmt.Sprintf("%d (%s)", v.rollouts, strings.Join(want, ", "))},
		{"GitLab records", fmt.Sprint(v.records)},
		{"duplicates", fmt.Sprint(len(v.duplicates))},
		{"records left running", fmt.Sprint(len(v.leftRunning))},
		{"wrong final statuses", fmt.Sprint(len(v.wrong))},
		{"unfinished rollouts replaced before any record (not reported)", fmt.Sprint(v.unrecorded)},
		{"records of no rollout", fmt.Sprint(len(v.unknown))},
	}
}

// logTable logs a two-column table of figures under a title.
func logTable(t *testing.T, title string, rows [][2]string) {
	t.Helper()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		_, _ = fmt.Fprintf(w, "  %s\t%s\n", r[0], r[1])
	}
	_ = w.Flush()
	t.Logf("%s\n%s", title, b.String())
}

// projectPrefix is the REST path of a project's resources.
func projectPrefix(project string) string {
	return "/api/v4/projects/" + url.PathEscape(project) + "/"
}

// requests returns the fake's log of requests about project (any project
// when empty) received in [from, to) (to zero: until now) that keep says to.
func requests(project string, from, to time.Time, keep func(gitlabtest.Request) bool) []gitlabtest.Request {
	var out []gitlabtest.Request
	for _, r := range gitLab.Requests() {
		if project != "" && !strings.HasPrefix(r.Path+"/", projectPrefix(project)) {
			continue
		}
		if r.Time.Before(from) || !to.IsZero() && !r.Time.Before(to) {
			continue
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b gitlabtest.Request) int { return a.Time.Compare(b.Time) })
	return out
}

func isWrite(r gitlabtest.Request) bool {
	return r.Method == http.MethodPost || r.Method == http.MethodPut
}

// peakRate is the most requests received within one second.
func peakRate(reqs []gitlabtest.Request) int {
	peak := 0
	for i := range reqs {
		j := i
		for j < len(reqs) && reqs[j].Time.Sub(reqs[i].Time) < time.Second {
			j++
		}
		peak = max(peak, j-i)
	}
	return peak
}
