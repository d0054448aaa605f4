package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a component has to exit after SIGTERM before it
	// is killed.
	stopGrace = 5 * time.Second
	// tailLines is how many log lines an error message carries.
	tailLines = 30
	// pollInterval is how often readiness is checked.
	pollInterval = 100 * time.Millisecond
)

// process is one running component, its output going to <dir>/<name>.log.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed once the process has exited and been reaped.
	done chan struct{}
	// waitErr is what Wait returned; read it only after done is closed.
	waitErr error
}

// startProcess runs path with args, its stdout and stderr written to a fresh
// log file. The process outlives ctx: it ends with stop, or with the calling
// program (see sysProcAttr).
func startProcess(ctx context.Context, dir, name, path string, args []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	//nolint:gosec // G304: the component's log, in the cluster's own directory.
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: opening the %s log: %w", name, err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor

	//nolint:gosec // G204: path is one of the cluster's own binaries, args are built here.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), path, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster: starting %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to exit, kills it after stopGrace, then kills
// anything left in its process group. It fails, with the tail of the log, if
// the process had already ended on its own.
func (p *process) stop() error {
	var err error
	if p.exited() {
		err = p.failure("had stopped before the cluster was stopped")
	} else {
		_ = signalGroup(p.cmd.Process, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = signalGroup(p.cmd.Process, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = signalGroup(p.cmd.Process, syscall.SIGKILL) // stragglers in the group, if any
	return err
}

// failure describes why the process is unusable, with the tail of its log.
func (p *process) failure(what string) error {
	state := "is running"
	if p.exited() {
		state = fmt.Sprintf("exited (%v)", p.waitErr)
	}
	return fmt.Errorf("cluster: %s %s; %s; last lines of %s:\n%s",
		p.name, what, state, p.logPath, tail(p.logPath, tailLines))
}

// tail returns the last n lines of the file at path, or a note saying why it
// could not be read.
func tail(path string, n int) string {
	data, err := os.ReadFile(path) //nolint:gosec // G304: a log file this package writes.
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.ReplaceAll(string(bytes.Join(lines, []byte("\n"))), "\n", "\n    ")
}

// waitReady polls ready until it reports true. It fails with subject's log
// when ctx ends first, and with the log of any process in watched that exits
// meanwhile.
func waitReady(ctx context.Context, subject *process, watched []*process, ready func(context.Context) bool) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		for _, p := range watched {
			if p.exited() {
				return p.failure("stopped unexpectedly")
			}
		}
		if ready(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", subject.failure("did not become ready"), context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// portInUse reports whether the process exited because a port it was given
// was taken meanwhile by another program.
func (p *process) portInUse() bool {
	if !p.exited() {
		return false
	}
	data, err := os.ReadFile(p.logPath) //nolint:gosec // G304: a log file this package writes.
	return err == nil && bytes.Contains(data, []byte("address already in use"))
}
