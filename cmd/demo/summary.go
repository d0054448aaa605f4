package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// summarize ends the story: the final records, what they mean, and how to
// look further. It also writes the report when asked.
func (s *story) summarize(ctx context.Context, env *environment, o *options) error {
	snap, err := s.look(ctx)
	if err != nil {
		return err
	}
	s.n.heading("Summary")
	s.n.say("Every rollout became one GitLab deployment, with its status kept true by rollgate:")
	s.n.block(recordsTable(snap.records))
	s.n.say("- staging %s: running, then success.", short(shaV1))
	switch s.gate {
	case gateApproved:
		s.n.say("- production %s: held until %s approved it in GitLab, then success.", short(shaV1), approverUser)
	case gateRejected:
		s.n.say("- production %s: held, rejected in GitLab, rolled back and canceled.", short(shaV1))
	case gateUnavailable:
		s.n.say("- production %s: success, but NOT held for approval (this build has no approval gate).", short(shaV1))
	}
	s.n.say("- staging %s: failed (progress deadline exceeded); the previous pods kept serving.", short(shaV2))
	if o.report != "" {
		if err := writeReport(o.report, snap.records, s.gate); err != nil {
			return err
		}
	}
	if o.autoApprove {
		s.n.say("Run `make demo` in a terminal to approve by hand and explore the cluster and GitLab afterwards.")
		return nil
	}
	s.explore(env)
	return nil
}

// explore tells how to look at the cluster and GitLab while the demo runs.
func (s *story) explore(env *environment) {
	s.n.heading("Explore")
	kubeconfig := env.cluster.KubeconfigPath
	s.n.say("The cluster (rollgate's records of each rollout, and the Deployments):")
	s.n.command("kubectl --kubeconfig " + kubeconfig + " get gld -A\n    " +
		"kubectl --kubeconfig " + kubeconfig + " describe gld -n " + envProduction)
	s.n.say("GitLab's REST API (the same calls rollgate makes):")
	s.n.command(fmt.Sprintf(`curl -H "PRIVATE-TOKEN: %s" "%s%s?environment=%s"`,
		rollgateToken, env.gitlab.url, deploymentsPath(), envProduction))
	s.n.say("Logs: %s, %s and %s.", filepath.Join(env.dir, "rollgate.log"),
		filepath.Join(env.dir, "fake-gitlab.log"), filepath.Join(env.dir, "cluster", "*.log"))
}

// report is the demo's machine-readable result.
type report struct {
	// Gate is how the production rollout went through the approval gate.
	Gate gateOutcome `json:"gate"`
	// Deployments are GitLab's deployments of the project, oldest first.
	Deployments []deployment `json:"deployments"`
}

// writeReport writes the final records to path as JSON.
func writeReport(path string, records []deployment, gate gateOutcome) error {
	data, err := json.MarshalIndent(report{Gate: gate, Deployments: records}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil { //nolint:gosec // the report file the user named
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
