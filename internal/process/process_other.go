//go:build !linux

package process

import (
	"os"
	"syscall"
)

// sysProcAttr returns nil: outside Linux a process is not tied to the
// calling program's lifetime, so a program killed without calling Stop leaves
// its children running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup sends sig to the process p alone.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return p.Signal(sig)
}
