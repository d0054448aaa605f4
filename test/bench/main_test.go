// Package bench measures the rollgate manager binary on a real local
// cluster: its GitLab and Kubernetes requests per rollout, how soon GitLab
// learns of rollouts, how many rollouts per second it records in a burst,
// and its memory next to a bare controller-runtime cache of the same
// Deployments. `make bench` runs every scale, `make bench-quick` the 2,000
// one; each prints one markdown table (see the README's Performance section).
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

func TestMain(m *testing.M) {
	log.SetLogger(logr.Discard())
	code := m.Run()
	results.Lock()
	cols := results.columns
	results.Unlock()
	// Columns are added as each scenario ends: a failed or cut-short run
	// still reports the scenarios it finished.
	if len(cols) > 0 {
		out := table(cols)
		fmt.Println("\n" + out)
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			if err := os.WriteFile(path, []byte(out+"\n"), 0o644); err != nil { //nolint:gosec // a report for people
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}
	os.Exit(code)
}

// binaries are the programs the benchmark runs, built once.
type binaries struct {
	manager, bare string
}

var (
	buildOnce sync.Once
	built     *binaries
	buildErr  error
)

// buildBinaries builds the manager and the bare cache into a directory
// removed when the benchmark ends.
func buildBinaries(tb testing.TB) *binaries {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rollgate-bench-")
		if err != nil {
			buildErr = err
			return
		}
		ctx := context.Background()
		b := &binaries{bare: filepath.Join(dir, "barecache")}
		if b.manager, err = harness.BuildManager(ctx, dir); err != nil {
			buildErr = err
			return
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bare, "./barecache")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the bare cache: %w\n%s", err, out)
			return
		}
		built = b
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return built
}
