package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// binDir holds the manager, fake-gitlab and demo binaries built for the
// end-to-end tests; empty with -short.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "rollgate-demo-bin-")
	if err == nil {
		err = buildBinaries(dir)
	}
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds what `make demo` builds into dir.
func buildBinaries(dir string) error {
	for name, pkg := range map[string]string{"manager": "../../cmd", "fake-gitlab": "../fake-gitlab", "demo": "."} {
		cmd := exec.CommandContext(context.Background(), "go", "build", "-o", filepath.Join(dir, name), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

func TestSeedIsValid(t *testing.T) {
	g := NewWithT(t)
	seed, err := gitlabtest.ParseSeed([]byte(seedYAML))
	g.Expect(err).NotTo(HaveOccurred())
	fake := gitlabtest.NewHandler()
	defer fake.Close()
	g.Expect(fake.Seed(seed)).To(Succeed())
}

func TestWebhooksPointAtTheLocalManager(t *testing.T) {
	g := NewWithT(t)
	w, err := readWebhooks("../..", "https://127.0.0.1:9443")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.empty()).To(BeFalse(), "config/webhook/manifests.yaml has the gate's webhooks")
	for _, m := range w.mutating {
		g.Expect(m.Name).To(HavePrefix(webhookPrefix))
		for _, h := range m.Webhooks {
			g.Expect(h.ClientConfig.Service).To(BeNil())
			g.Expect(*h.ClientConfig.URL).To(HavePrefix("https://127.0.0.1:9443/mutate-"))
		}
	}
	for _, v := range w.validating {
		g.Expect(v.Name).To(HavePrefix(webhookPrefix))
		g.Expect(*v.Webhooks[0].ClientConfig.URL).To(HavePrefix("https://127.0.0.1:9443/validate-"))
	}
}

// TestDemoRunsEndToEnd runs the demo as `make demo DEMO_FLAGS=--auto-approve`
// does and checks the story's outcome in GitLab's records.
func TestDemoRunsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	g := NewWithT(t)
	work, reportPath := filepath.Join(t.TempDir(), "work"), filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := demoCommand(ctx, "--auto-approve", "--dir", work, "--report", reportPath)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("demo output (%v):\n%s", time.Since(start).Round(time.Second), out)
	g.Expect(err).NotTo(HaveOccurred(), "exit status of the demo")
	g.Expect(leftovers(work)).To(BeEmpty(), "processes left running")
	g.Expect(string(out)).To(ContainSubstring("holds it: the Deployment is paused=true"))
	g.Expect(string(out)).To(ContainSubstring("/api/v4/projects/1/deployments/"))
	g.Expect(string(out)).To(ContainSubstring("GitLab's production environment: tier production, external URL " + productionURL))
	g.Expect(string(out)).To(ContainSubstring("The production rollout shipped 2 merge requests"))
	g.Expect(string(out)).To(MatchRegexp(`!2 Say hello  http://127\.0\.0\.1:\d+/demo/hello/-/merge_requests/2`))
	g.Expect(string(out)).To(ContainSubstring("!1 Serve the greeting page"))

	var r report
	data, err := os.ReadFile(reportPath) //nolint:gosec // the test's own file
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(json.Unmarshal(data, &r)).To(Succeed())
	g.Expect(r.Gate).To(Equal(gateApproved))
	statuses := map[string]string{}
	for _, d := range r.Deployments {
		statuses[d.Environment.Name+"@"+short(d.SHA)] = d.Status
	}
	g.Expect(statuses).To(Equal(map[string]string{
		"staging@" + short(shaV1):    "success",
		"production@" + short(shaV1): "success",
		"staging@" + short(shaV2):    "failed",
	}))
}

// TestDemoStopsEverythingOnInterrupt interrupts the demo while it waits for
// an approval, as Ctrl-C does, and checks that nothing it started survives.
func TestDemoStopsEverythingOnInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	g := NewWithT(t)
	work := filepath.Join(t.TempDir(), "work")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := demoCommand(ctx, "--auto-approve=false", "--dir", work)
	stdin, err := cmd.StdinPipe() // open and silent: no one presses Enter
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = stdin.Close() }()
	stdout, err := cmd.StdoutPipe()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cmd.Start()).To(Succeed())

	g.Expect(waitForLine(stdout, "Waiting for a decision")).To(Succeed())
	g.Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	err = cmd.Wait()
	var exit *exec.ExitError
	g.Expect(errors.As(err, &exit)).To(BeTrue(), "the demo exits with a status: %v", err)
	g.Expect(exit.ExitCode()).To(Equal(130))
	g.Expect(leftovers(work)).To(BeEmpty(), "processes left running")
}

// demoCommand runs the built demo from this directory, without color.
func demoCommand(ctx context.Context, args ...string) *exec.Cmd {
	args = append([]string{"--bin-dir", binDir}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "demo"), args...) //nolint:gosec // the binary built above
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

// waitForLine reads r until a line contains want.
func waitForLine(r io.Reader, want string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return nil
		}
	}
	return fmt.Errorf("the demo's output ended without %q (%w)", want, sc.Err())
}

// leftovers lists the processes still running in dir or below: every
// process the demo starts runs there.
func leftovers(dir string) []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")) //nolint:gosec // /proc
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}
