package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a child has to exit after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// child is a program the demo runs next to the cluster (the fake GitLab,
// rollgate's manager), with its output in a log file.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startChild runs path with args and env added to the demo's environment,
// writing its output to <dir>/<name>.log. The child is in its own process
// group, so a terminal's Ctrl-C reaches only the demo, which stops it in
// order; on Linux the kernel also kills it if the demo dies first.
func startChild(dir, name, path string, args, env []string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // our own log
	if err != nil {
		return nil, fmt.Errorf("opening the %s log: %w", name, err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor

	cmd := exec.CommandContext(context.Background(), path, args...) //nolint:gosec // the demo's own binaries
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitReason describes how the child ended; call it once it has.
func (c *child) exitReason() string {
	if c.waitErr == nil {
		return "exit status 0"
	}
	return c.waitErr.Error()
}

// stop asks the child to exit, kills it after stopGrace, then kills anything
// left in its process group. It reports a child that had ended on its own.
func (c *child) stop() error {
	var err error
	if c.exited() {
		err = fmt.Errorf("%s had stopped on its own (%s); see %s", c.name, c.exitReason(), c.logPath)
	} else {
		_ = signalGroup(c.cmd.Process, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(stopGrace):
			_ = signalGroup(c.cmd.Process, syscall.SIGKILL)
			<-c.done
		}
	}
	_ = signalGroup(c.cmd.Process, syscall.SIGKILL)
	return err
}

// waitFor polls ready every interval until it reports true, failing when
// ctx ends or when the child exits first.
func (c *child) waitFor(ctx context.Context, what string, ready func(context.Context) bool) error {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		if c.exited() {
			return fmt.Errorf("%s exited (%s) before %s; last lines of %s:\n%s",
				c.name, c.exitReason(), what, c.logPath, tail(c.logPath, 20))
		}
		if ready(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", c.name, what, context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// readFile returns a file's contents, or "" when it cannot be read.
func readFile(path string) string {
	data, err := os.ReadFile(path) //nolint:gosec // the demo's own files
	if err != nil {
		return ""
	}
	return string(data)
}

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(readFile(path)))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	lines = lines[max(len(lines)-n, 0):]
	return "    " + strings.Join(lines, "\n    ")
}
