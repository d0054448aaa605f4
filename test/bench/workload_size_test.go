package bench

import (
	"encoding/json"
	"testing"
)

// TestDeploymentSize checks that the benchmark's Deployments are as large
// as real ones: 6–11 KB as JSON.
func TestDeploymentSize(t *testing.T) {
	lo, hi := 1<<30, 0
	for i := range 400 {
		data, err := json.Marshal(benchDeployment(i, shaOf(0)))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi = min(lo, len(data)), max(hi, len(data))
	}
	if lo < 6000 || hi > 11000 {
		t.Fatalf("Deployments are %d to %d bytes as JSON, want 6,000 to 11,000", lo, hi)
	}
	t.Logf("Deployments are %d to %d bytes as JSON", lo, hi)
}
