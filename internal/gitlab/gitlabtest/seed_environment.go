package gitlabtest

import (
	"fmt"
	"slices"
	"strings"
)

// EnvironmentSpec seeds an environment, as if someone had created it in
// GitLab's UI. It is validated like POST /projects/:id/environments.
type EnvironmentSpec struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	// Tier is production, staging, testing, development or other;
	// guessed from the name when empty, as GitLab does.
	Tier        string `json:"tier,omitempty"`
	ExternalURL string `json:"external_url,omitempty"`
	// ClusterAgent names an agent of the project (see AgentSpec).
	ClusterAgent        string `json:"cluster_agent,omitempty"`
	KubernetesNamespace string `json:"kubernetes_namespace,omitempty"`
	FluxResourcePath    string `json:"flux_resource_path,omitempty"`
	Description         string `json:"description,omitempty"`
	// State is available (the default), stopping or stopped.
	State string `json:"state,omitempty"`
	// AutoStopSetting is always (the default) or with_action.
	AutoStopSetting string `json:"auto_stop_setting,omitempty"`
}

// AddEnvironment seeds an environment and returns its ID.
func (f *Fake) AddEnvironment(s EnvironmentSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(s.Project)
	if err != nil {
		return 0, err
	}
	state := defaultString(s.State, envAvailable)
	if !slices.Contains(envStates, state) {
		return 0, fmt.Errorf("%w: environment state %q", ErrInvalid, s.State)
	}
	if s.Tier != "" && !slices.Contains(envTiers, s.Tier) {
		return 0, fmt.Errorf("%w: environment tier %q", ErrInvalid, s.Tier)
	}
	autoStop := defaultString(s.AutoStopSetting, autoStopAlways)
	if !slices.Contains(autoStopSettings, autoStop) {
		return 0, fmt.Errorf("%w: auto_stop_setting %q", ErrInvalid, s.AutoStopSetting)
	}
	var ag *agent
	if s.ClusterAgent != "" {
		if ag = p.agentNamed(s.ClusterAgent); ag == nil {
			return 0, fmt.Errorf("%w: agent %q in %s", ErrNotFound, s.ClusterAgent, p.fullPath)
		}
	}
	e := &environment{project: p, name: s.Name, state: state}
	ch := envChange{externalURL: &s.ExternalURL, tier: &s.Tier, namespace: &s.KubernetesNamespace,
		fluxPath: &s.FluxResourcePath, description: &s.Description, autoStop: &autoStop, setAgent: true}
	if msgs := f.applyEnvChange(e, ch, ag, true); len(msgs) > 0 {
		return 0, fmt.Errorf("%w: environment %q: %v", ErrInvalid, s.Name, msgs)
	}
	now := f.now()
	e.id, e.slug, e.createdAt, e.updatedAt = f.next("environment"), environmentSlug(s.Name), now, now
	p.environments = append(p.environments, e)
	return e.id, nil
}

// PushCommits appends commits to a branch's history, creating the branch
// if needed, and moves the branch to the last of them. Merge requests
// whose merge (or squash) commit is among a deployment's commits are
// linked to it when it succeeds; see the package documentation.
func (f *Fake) PushCommits(projectID, branch string, commits ...CommitSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return err
	}
	shas := make([]string, 0, len(commits))
	for _, c := range commits {
		if _, ok := p.commits[strings.ToLower(c.SHA)]; !ok || c.Title != "" {
			if err := f.addCommit(p, c); err != nil {
				return err
			}
		}
		shas = append(shas, strings.ToLower(c.SHA))
	}
	return f.appendHistory(p, branch, shas)
}

// appendHistory extends a branch's first-parent history and moves the
// branch head.
func (f *Fake) appendHistory(p *project, branch string, shas []string) error {
	if !isRefName(branch) {
		return fmt.Errorf("%w: branch name %q", ErrInvalid, branch)
	}
	if len(shas) == 0 {
		return nil
	}
	for _, sha := range shas {
		if _, ok := p.commits[sha]; !ok {
			if err := f.addCommit(p, CommitSpec{SHA: sha}); err != nil {
				return err
			}
		}
	}
	if p.history == nil {
		p.history = map[string][]string{}
	}
	p.history[branch] = append(p.history[branch], shas...)
	p.branches[branch] = shas[len(shas)-1]
	return nil
}
