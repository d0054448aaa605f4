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

// TestRolloutsChangeTheTemplate checks that each wave's commit changes the
// pod template, so that it is a rollout.
func TestRolloutsChangeTheTemplate(t *testing.T) {
	seen := map[string]bool{}
	for wave := range 4 {
		img := benchDeployment(0, shaOf(wave)).Spec.Template.Spec.Containers[0].Image
		if seen[img] {
			t.Fatalf("wave %d deploys image %s again", wave, img)
		}
		seen[img] = true
	}
}
