// Package harness runs rollgate's manager binary and a fake GitLab for the
// end-to-end tests and benchmarks: the binary is built once from ./cmd and
// started, stopped and killed as a child process, as a user would run it.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rollgate/rollgate/internal/process"
)

// stopGrace is how long the manager has to exit after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// RepoRoot returns the nearest directory at or above the working directory
// that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// BuildManager builds the manager binary (./cmd of the repository) into
// dir and returns its path.
func BuildManager(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "rollgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: building the manager: %w\n%s", err, msg)
	}
	return out, nil
}

// Manager is the rollgate manager running as a child process, its output
// appended to LogPath. Start, Stop and Kill may be called repeatedly to
// restart it.
type Manager struct {
	// Binary is the manager executable.
	Binary string
	// Args are its flags.
	Args []string
	// Env is added to the environment it inherits, e.g. POD_NAMESPACE=ns.
	Env []string
	// LogPath receives its standard output and error, appended on each start.
	LogPath string

	proc *process.Process
}

// Start runs the manager in its own process group. On Linux the kernel kills
// it if the calling program dies without stopping it.
func (m *Manager) Start() error {
	if m.Running() {
		return errors.New("harness: the manager is already running")
	}
	proc, err := process.Start(context.Background(), process.Options{
		Name: "manager", Path: m.Binary, Args: m.Args, Env: m.Env,
		LogPath: m.LogPath, AppendLog: true, Grace: stopGrace,
	})
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	m.proc = proc
	return nil
}

// Running reports whether the manager was started and has not exited.
func (m *Manager) Running() bool {
	return m.proc != nil && !m.proc.Exited()
}

// PID returns the process ID of the running manager, 0 if none.
func (m *Manager) PID() int {
	if !m.Running() {
		return 0
	}
	return m.proc.PID()
}

// Stop asks the manager to exit (SIGTERM) and kills it after a grace period.
// A manager that is not running is left as it is.
func (m *Manager) Stop() error {
	if !m.Running() {
		return nil
	}
	if err := m.proc.Stop(); err != nil && !errors.Is(err, process.ErrExited) {
		return fmt.Errorf("harness: %w", err)
	}
	return nil
}

// Kill ends the manager at once (SIGKILL), as a crash or an OOM kill would,
// and waits until it is gone.
func (m *Manager) Kill() error {
	if !m.Running() {
		return nil
	}
	if err := m.proc.Kill(); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	return nil
}

// Restart stops the manager gracefully and starts it again.
func (m *Manager) Restart() error {
	if err := m.Stop(); err != nil {
		return err
	}
	return m.Start()
}

// PeakRSS returns the running manager's peak resident set size in bytes
// (VmHWM in /proc/<pid>/status; Linux only).
func (m *Manager) PeakRSS() (int64, error) {
	pid := m.PID()
	if pid == 0 {
		return 0, errors.New("harness: the manager is not running")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("harness: parsing VmHWM %q: %w", rest, err)
		}
		return kib * 1024, nil
	}
	return 0, errors.New("harness: no VmHWM in /proc status")
}

// Log returns the manager's log so far.
func (m *Manager) Log() string {
	data, err := os.ReadFile(m.LogPath)
	if err != nil {
		return fmt.Sprintf("(manager log unavailable: %v)", err)
	}
	return string(data)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
