package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

const (
	// warmUp is how long a freshly started manager takes to sync its caches
	// and look at every GitLabDeployment; observed says a manager could see
	// and act on a change once it has run this long and margin more.
	warmUp = 3 * time.Second
	margin = 2 * time.Second
)

// manager is a manager process whose runs (start and end times) are kept,
// so that a stream can tell whether rollgate could have seen a change.
type manager struct {
	*harness.Manager
	name string

	mu   sync.Mutex
	runs []managerRun
}

type managerRun struct{ start, end time.Time }

// managerArgs are the flags every manager of the suite runs with: GitLab
// traffic as rollgate ships (client rate limit, timeouts, retries), and
// webhooks off unless a test turns them on.
func managerArgs() []string {
	return []string{
		"--kubeconfig=" + testCluster.KubeconfigPath,
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--default-credentials=" + systemNamespace + "/" + secretName,
		"--approval-webhooks=false",
		"--zap-devel=false", "--zap-log-level=info",
		// The fake GitLab links merge requests when a record succeeds, not
		// in a background job: read them in the same reconcile, so that a
		// settled rollout owes GitLab nothing.
		"--shipped-delay=0s",
	}
}

// startManager starts a manager named name with managerArgs and extra
// flags (a later flag overrides an earlier one), and stops it when t ends.
func startManager(t *testing.T, name string, env []string, extra ...string) *manager {
	t.Helper()
	m := &manager{name: name, Manager: &harness.Manager{
		Binary:  binary,
		Args:    append(managerArgs(), extra...),
		Env:     env,
		LogPath: filepath.Join(workDir, t.Name()+"-"+name+".log"),
	}}
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("manager %s log: %s", name, m.LogPath)
		}
	})
	return m
}

func (m *manager) start() error {
	if err := m.Start(); err != nil {
		return err
	}
	m.mu.Lock()
	m.runs = append(m.runs, managerRun{start: time.Now()})
	m.mu.Unlock()
	return nil
}

// kill ends the manager with SIGKILL.
func (m *manager) kill() error {
	if err := m.Kill(); err != nil {
		return err
	}
	m.ended()
	return nil
}

// stop ends the manager with SIGTERM.
func (m *manager) stop() error {
	if err := m.Stop(); err != nil {
		return err
	}
	m.ended()
	return nil
}

func (m *manager) ended() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.runs); n > 0 && m.runs[n-1].end.IsZero() {
		m.runs[n-1].end = time.Now()
	}
}

// upSince returns when the current run started, zero if not running.
func (m *manager) upSince() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.runs); n > 0 && m.runs[n-1].end.IsZero() {
		return m.runs[n-1].start
	}
	return time.Time{}
}

// observed reports whether a run of the manager, warmed up, was alive for a
// moment at or after t: whether it could have seen what happened at t.
func (m *manager) observed(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, r := range m.runs {
		seen := t
		if warm := r.start.Add(warmUp); warm.After(seen) {
			seen = warm
		}
		seen = seen.Add(margin)
		if now.After(seen) && (r.end.IsZero() || r.end.After(seen)) {
			return true
		}
	}
	return false
}

// waitObserved blocks until the manager could have seen what happened at t.
func (m *manager) waitObserved(ctx context.Context, t time.Time) {
	for !m.observed(t) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// String is for logs.
func (m *manager) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%s (%s runs)", m.name, strconv.Itoa(len(m.runs)))
}
