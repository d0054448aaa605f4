package gitlabtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Seed is a whole initial state, as read from a seed file or posted to
// the control API. It is applied in field order.
type Seed struct {
	Users                 []UserSpec                 `json:"users,omitempty"`
	Groups                []GroupSpec                `json:"groups,omitempty"`
	Projects              []ProjectSpec              `json:"projects,omitempty"`
	Tokens                []TokenSpec                `json:"tokens,omitempty"`
	ClusterAgents         []AgentSpec                `json:"cluster_agents,omitempty"`
	Environments          []EnvironmentSpec          `json:"environments,omitempty"`
	MergeRequests         []MergeRequestSpec         `json:"merge_requests,omitempty"`
	ProtectedEnvironments []ProtectedEnvironmentSpec `json:"protected_environments,omitempty"`
	Hooks                 []HookSpec                 `json:"hooks,omitempty"`
	Jobs                  []JobSpec                  `json:"jobs,omitempty"`
	// ApprovalHooks turns on the approval lifecycle Deployment Hooks, as
	// WithApprovalHooks does; it is applied before everything else.
	ApprovalHooks bool `json:"approval_hooks,omitempty"`
}

// ParseSeed reads a seed in YAML or JSON, rejecting unknown fields.
func ParseSeed(data []byte) (Seed, error) {
	var s Seed
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return Seed{}, fmt.Errorf("parsing seed: %w", err)
	}
	return s, nil
}

// Seed applies a seed. It stops at the first error; what was applied
// before it stays.
func (f *Fake) Seed(s Seed) error {
	if s.ApprovalHooks {
		f.mu.Lock()
		f.cfg.approvalHooks = true
		f.mu.Unlock()
	}
	if err := f.seedAccounts(s); err != nil {
		return err
	}
	for _, a := range s.ClusterAgents {
		if _, err := f.AddAgent(a); err != nil {
			return err
		}
	}
	for _, e := range s.Environments {
		if _, err := f.AddEnvironment(e); err != nil {
			return err
		}
	}
	for _, mr := range s.MergeRequests {
		if _, err := f.AddMergeRequest(mr); err != nil {
			return err
		}
	}
	for _, pe := range s.ProtectedEnvironments {
		if err := f.ProtectEnvironment(pe); err != nil {
			return err
		}
	}
	for _, h := range s.Hooks {
		if err := f.AddHook(h); err != nil {
			return err
		}
	}
	for _, j := range s.Jobs {
		if _, err := f.CreateJob(j); err != nil {
			return err
		}
	}
	return nil
}

func (f *Fake) seedAccounts(s Seed) error {
	for _, u := range s.Users {
		if _, err := f.AddUser(u); err != nil {
			return err
		}
	}
	for _, g := range s.Groups {
		if _, err := f.AddGroup(g); err != nil {
			return err
		}
	}
	for _, p := range s.Projects {
		if _, err := f.AddProject(p); err != nil {
			return err
		}
	}
	for _, t := range s.Tokens {
		if err := f.AddToken(t); err != nil {
			return err
		}
	}
	return nil
}

var accessLevelNames = map[string]AccessLevel{
	"none": NoAccess, "guest": Guest, "reporter": Reporter, "developer": Developer,
	"maintainer": Maintainer, "owner": Owner, "admin": Admin,
}

// UnmarshalJSON accepts a number (30) or a role name ("developer").
func (a *AccessLevel) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		lvl, ok := accessLevelNames[strings.ToLower(s)]
		if !ok {
			return fmt.Errorf("unknown access level %q", s)
		}
		*a = lvl
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("access level: %w", err)
	}
	*a = AccessLevel(n)
	return nil
}
