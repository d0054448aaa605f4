package install

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain runs the installer tests, which start local control planes and
// run helm, kustomize and the manager binary; -short skips them.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping the installer tests: they run local control planes, helm, kustomize and the manager binary; not run with -short")
		os.Exit(0)
	}
	os.Exit(m.Run())
}
