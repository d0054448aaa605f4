/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"runtime"
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

// The heap profile is sampled only when its endpoint is served.
func TestTheHeapProfileIsSampledOnlyWhenServed(t *testing.T) {
	g := NewWithT(t)
	rate := runtime.MemProfileRate
	t.Cleanup(func() { runtime.MemProfileRate = rate })
	memProfile(true)
	g.Expect(runtime.MemProfileRate).To(Equal(rate))
	memProfile(false)
	g.Expect(runtime.MemProfileRate).To(BeZero())
}

// GOGC applies when set; otherwise the manager's default does.
func TestGCPercent(t *testing.T) {
	g := NewWithT(t)
	previous := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(previous) })
	t.Setenv("GOGC", "")
	gcPercent()
	g.Expect(debug.SetGCPercent(100)).To(Equal(defaultGCPercent))
	t.Setenv("GOGC", "100")
	debug.SetGCPercent(80)
	gcPercent()
	g.Expect(debug.SetGCPercent(100)).To(Equal(80), "GOGC set: left as the runtime read it")
}
