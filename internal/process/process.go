// Package process runs helper programs as child processes for the cluster,
// the demo and the end-to-end tests: each in its own process group, with its
// output in a log file, stopped with SIGTERM and then SIGKILL after a grace
// period, and on Linux killed by the kernel when the calling program dies
// without stopping it.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL when
	// Options.Grace is zero.
	DefaultGrace = 5 * time.Second
	// TailLines is how many log lines an error of this package carries.
	TailLines = 30
	// pollInterval is how often WaitFor checks readiness.
	pollInterval = 100 * time.Millisecond
)

// ErrExited is wrapped by the error Stop returns when the process had
// stopped on its own before Stop or Kill ended it.
var ErrExited = errors.New("had stopped on its own")

// Options describe a process to start.
type Options struct {
	// Dir is the process's working directory and, unless LogPath is set,
	// where its log <Dir>/<Name>.log goes. Empty means the calling
	// program's working directory.
	Dir string
	// Name names the process in errors and its log file.
	Name string
	// Path is the executable.
	Path string
	// Args are its arguments.
	Args []string
	// Env is added to the calling program's environment.
	Env []string
	// LogPath is where standard output and error go; empty means
	// <Dir>/<Name>.log.
	LogPath string
	// AppendLog keeps what the log already holds and marks each start with a
	// line, for a program started repeatedly; otherwise the log starts empty.
	AppendLog bool
	// Grace is how long Stop gives the process to exit after SIGTERM; zero
	// means DefaultGrace.
	Grace time.Duration
}

// Process is a running child program. Its methods may be called from any
// goroutine.
type Process struct {
	name    string
	logPath string
	grace   time.Duration
	cmd     *exec.Cmd
	// done is closed once the process has exited and been reaped.
	done chan struct{}
	// waitErr is what Wait returned; read it only after done is closed.
	waitErr error

	mu sync.Mutex
	// ended says that Stop or Kill has ended the process; stopErr is what
	// the first Stop returned.
	ended   bool
	stopErr error
}

// Start runs the program opts describe. The process outlives ctx: it ends
// with Stop or Kill, or, on Linux, with the calling program. Start must not
// be called from a goroutine that locked its OS thread and never unlocks it:
// on Linux the process is killed when the thread that started it exits.
func Start(ctx context.Context, opts Options) (*Process, error) {
	logPath := opts.LogPath
	if logPath == "" {
		logPath = filepath.Join(opts.Dir, opts.Name+".log")
	}
	logFile, err := openLog(logPath, opts.Name, opts.AppendLog)
	if err != nil {
		return nil, fmt.Errorf("opening the %s log: %w", opts.Name, err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor

	cmd := exec.CommandContext(context.WithoutCancel(ctx), opts.Path, opts.Args...)
	cmd.Dir = opts.Dir
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opts.Name, err)
	}
	p := &Process{
		name: opts.Name, logPath: logPath, grace: opts.Grace, cmd: cmd, done: make(chan struct{}),
	}
	if p.grace == 0 {
		p.grace = DefaultGrace
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// openLog opens the log at path, emptied, or with a line marking this start
// appended when keep is set.
func openLog(path, name string, keep bool) (*os.File, error) {
	if !keep {
		return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // G304: the caller's log.
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: the caller's log.
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(f, "--- starting %s at %s\n", name, time.Now().Format(time.RFC3339Nano)); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// Name returns the name the process was started under.
func (p *Process) Name() string { return p.name }

// PID returns the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath returns the file holding the process's output.
func (p *Process) LogPath() string { return p.logPath }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitReason describes how the process ended, such as "exit status 1" or
// "signal: killed", or says that it is still running.
func (p *Process) ExitReason() string {
	switch {
	case !p.Exited():
		return "still running"
	case p.waitErr == nil:
		return "exit status 0"
	default:
		return p.waitErr.Error()
	}
}

// Stop asks the process to exit with SIGTERM, sends SIGKILL after the grace
// period, then kills anything left in its process group. It fails, wrapping
// ErrExited and with the tail of the log, if the process had stopped on its
// own. Calling it again returns the first call's result.
func (p *Process) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return p.stopErr
	}
	p.ended = true
	if p.Exited() {
		p.stopErr = p.withLog(fmt.Errorf("%s %w (%s)", p.name, ErrExited, p.ExitReason()))
	} else {
		_ = signalGroup(p.cmd.Process, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.grace):
			_ = signalGroup(p.cmd.Process, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = signalGroup(p.cmd.Process, syscall.SIGKILL) // stragglers in the group, if any
	return p.stopErr
}

// Kill ends the process and its group at once with SIGKILL, as a crash or an
// out-of-memory kill would, and waits until it is gone. It does nothing to a
// process that has already ended.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Exited() {
		p.ended = true
		return nil
	}
	if err := signalGroup(p.cmd.Process, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	p.ended = true
	<-p.done
	return nil
}

// WaitFor polls ready until it reports true. It fails, with the tail of the
// log, when the process exits first or when ctx ends; what says what is
// awaited, for the error.
func (p *Process) WaitFor(ctx context.Context, what string, ready func(context.Context) bool) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if p.Exited() {
			return p.withLog(fmt.Errorf("%s exited (%s) before %s", p.name, p.ExitReason(), what))
		}
		if ready(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.withLog(fmt.Errorf("%s: waiting for %s: %w", p.name, what, context.Cause(ctx)))
		case <-ticker.C:
		}
	}
}

// withLog appends the last TailLines lines of the log to err.
func (p *Process) withLog(err error) error {
	return fmt.Errorf("%w; last lines of %s:\n%s", err, p.logPath, p.Tail(TailLines))
}

// Tail returns the last n lines of the log, each indented by four spaces, or
// a note saying why the log could not be read.
func (p *Process) Tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.ReplaceAll(string(bytes.Join(lines, []byte("\n"))), "\n", "\n    ")
}
