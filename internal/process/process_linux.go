package process

import (
	"os"
	"syscall"
)

// sysProcAttr puts each process in its own process group, so that a
// terminal's Ctrl-C reaches only the calling program (which then stops its
// children in order), and has the kernel kill the process when the calling
// program dies without stopping it: a panic, a test timeout, SIGKILL.
//
// Pdeathsig fires when the thread that started the child exits; the Go
// runtime only retires threads that a goroutine locked and never unlocked, so
// Start must not be called from such a goroutine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to every process in p's process group.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
