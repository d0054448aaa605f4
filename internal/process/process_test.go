package process

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// startShell runs script with sh in a fresh directory.
func startShell(t *testing.T, opts Options, script string) *Process {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Name, opts.Path, opts.Args = "sh", "/bin/sh", []string{"-c", script}
	p, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// logHas returns a readiness check for text in p's log.
func logHas(p *Process, text string) func(context.Context) bool {
	return func(context.Context) bool {
		data, _ := os.ReadFile(p.LogPath())
		return strings.Contains(string(data), text)
	}
}

func TestStopEndsARunningProcess(t *testing.T) {
	p := startShell(t, Options{}, "echo up; exec sleep 60")
	if err := p.WaitFor(t.Context(), "up", logHas(p, "up")); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !p.Exited() || p.ExitReason() != "signal: terminated" {
		t.Fatalf("exited %v (%s), want ended by SIGTERM", p.Exited(), p.ExitReason())
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

func TestStopKillsAfterTheGracePeriod(t *testing.T) {
	p := startShell(t, Options{Grace: 200 * time.Millisecond}, "trap '' TERM; echo up; while :; do sleep 1; done")
	if err := p.WaitFor(t.Context(), "up", logHas(p, "up")); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.ExitReason() != "signal: killed" {
		t.Fatalf("exit reason %q, want SIGKILL", p.ExitReason())
	}
}

func TestStopReportsAProcessThatEndedOnItsOwn(t *testing.T) {
	p := startShell(t, Options{}, "echo goodbye; exit 3")
	if err := p.WaitFor(t.Context(), "the exit", func(context.Context) bool { return false }); err == nil ||
		!strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "    goodbye") {
		t.Fatalf("WaitFor: %v, want the exit status and the log", err)
	}
	err := p.Stop()
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "    goodbye") {
		t.Fatalf("Stop: %v, want ErrExited with the log", err)
	}
}

func TestWaitForFailsWhenTheContextEnds(t *testing.T) {
	p := startShell(t, Options{}, "echo still here; exec sleep 60")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := p.WaitFor(ctx, "never", func(context.Context) bool { return false })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for never") {
		t.Fatalf("WaitFor: %v, want the deadline", err)
	}
	if err := p.Kill(); err != nil || p.ExitReason() != "signal: killed" {
		t.Fatalf("Kill: %v (%s)", err, p.ExitReason())
	}
}

func TestAppendLogKeepsEarlierRuns(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, LogPath: dir + "/kept.log", AppendLog: true}
	for _, word := range []string{"first", "second"} {
		p := startShell(t, opts, "echo "+word)
		// Fails once sh has exited, which is what it waits for here.
		_ = p.WaitFor(t.Context(), "the exit", func(context.Context) bool { return false })
	}
	data, err := os.ReadFile(dir + "/kept.log")
	if err != nil {
		t.Fatal(err)
	}
	if log := string(data); strings.Count(log, "--- starting sh at ") != 2 ||
		!strings.Contains(log, "first") || !strings.Contains(log, "second") {
		t.Fatalf("log:\n%s", log)
	}
}
