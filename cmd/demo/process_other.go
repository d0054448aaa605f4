//go:build !linux

package main

import (
	"os"
	"syscall"
)

// sysProcAttr returns nil: outside Linux a child is not tied to the demo's
// lifetime, so a demo killed without its cleanup leaves its children running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup sends sig to the process p alone.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return p.Signal(sig)
}
