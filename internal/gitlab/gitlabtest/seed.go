package gitlabtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UserSpec seeds a user.
type UserSpec struct {
	// ID is the user's ID; assigned when 0.
	ID       int64  `json:"id,omitempty"`
	Username string `json:"username"`
	// Name defaults to the username.
	Name string `json:"name,omitempty"`
	// Email defaults to <username>@example.com.
	Email string `json:"email,omitempty"`
	Admin bool   `json:"admin,omitempty"`
}

// TokenSpec seeds a credential.
type TokenSpec struct {
	// Token is the secret the client sends.
	Token string `json:"token"`
	// User is the username the token authenticates as.
	User string `json:"user"`
	// Kind defaults to PersonalToken.
	Kind TokenKind `json:"kind,omitempty"`
	// Scopes default to ["api"]; job tokens ignore them.
	Scopes    []string  `json:"scopes,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Revoked   bool      `json:"revoked,omitempty"`
	// Project is the source project (ID or full path) of a job token.
	Project string `json:"project,omitempty"`
}

// GroupSpec seeds a group.
type GroupSpec struct {
	ID int64 `json:"id,omitempty"`
	// Path is the full path, e.g. "org/team"; its parent must exist.
	Path string `json:"path"`
	// Name defaults to the last path segment.
	Name string `json:"name,omitempty"`
	// Members maps usernames to roles.
	Members map[string]AccessLevel `json:"members,omitempty"`
}

// CommitSpec seeds a commit.
type CommitSpec struct {
	SHA         string    `json:"sha"`
	Title       string    `json:"title,omitempty"`
	Message     string    `json:"message,omitempty"`
	AuthorName  string    `json:"author_name,omitempty"`
	AuthorEmail string    `json:"author_email,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// JobTokenAccess allows job tokens of another project into a project.
type JobTokenAccess struct {
	// Project is the source project (ID or full path).
	Project string `json:"project"`
	// Policies are fine-grained job-token policies such as
	// "read_deployments" or "admin_deployments"; empty grants all.
	Policies []string `json:"policies,omitempty"`
}

// ProjectSpec seeds a project and its repository.
type ProjectSpec struct {
	ID int64 `json:"id,omitempty"`
	// Path is the full path, e.g. "group/project". A group with the
	// parent path is created when missing.
	Path string `json:"path"`
	// Visibility defaults to Private.
	Visibility    Visibility `json:"visibility,omitempty"`
	Description   string     `json:"description,omitempty"`
	DefaultBranch string     `json:"default_branch,omitempty"`
	// Branches and Tags map names to commit SHAs; the commits are created.
	Branches map[string]string `json:"branches,omitempty"`
	// History gives branches their first-parent history, oldest commit
	// first; the commits are created and the branch points at the last
	// one (Branches may not name it too). It stands in for the git graph
	// when merge requests are linked to deployments.
	History map[string][]string `json:"history,omitempty"`
	Tags    map[string]string   `json:"tags,omitempty"`
	Commits []CommitSpec        `json:"commits,omitempty"`
	// Members maps usernames to roles.
	Members map[string]AccessLevel `json:"members,omitempty"`
	// AcceptAnySHA treats every 40-hex SHA as an existing commit.
	AcceptAnySHA bool `json:"accept_any_sha,omitempty"`
	// AcceptAnyRef treats every well-formed ref name as an existing branch.
	AcceptAnyRef bool `json:"accept_any_ref,omitempty"`
	// EnvironmentsDisabled turns the Environments feature off.
	EnvironmentsDisabled bool `json:"environments_disabled,omitempty"`
	// AllowPipelineTriggerApproveDeployment lets a deployment's user
	// approve it.
	AllowPipelineTriggerApproveDeployment bool             `json:"allow_pipeline_trigger_approve_deployment,omitempty"`
	JobTokenAllowlist                     []JobTokenAccess `json:"job_token_allowlist,omitempty"`
}

// MergeRequestSpec seeds a merge request.
type MergeRequestSpec struct {
	Project      string `json:"project"`
	Title        string `json:"title"`
	SourceBranch string `json:"source_branch,omitempty"`
	TargetBranch string `json:"target_branch"`
	// State is opened, closed, locked or merged; default merged.
	State          string    `json:"state,omitempty"`
	Author         string    `json:"author,omitempty"`
	MergedAt       time.Time `json:"merged_at,omitzero"`
	MergeCommitSHA string    `json:"merge_commit_sha,omitempty"`
	// SquashCommitSHA is the squash commit of a merge request merged with
	// squash; it links the merge request like its merge commit does.
	SquashCommitSHA string `json:"squash_commit_sha,omitempty"`
	// CherryPickSHAs are commits that cherry-picked the merge request into
	// another branch (GitLab records them as system notes); a deployment
	// whose commit range holds one links the merge request.
	CherryPickSHAs []string `json:"cherry_pick_shas,omitempty"`
	// CreatedAt defaults to now; it orders the deployment merge request list.
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// AccessRuleSpec names who a protected-environment rule admits: one of
// User, Group or AccessLevel.
type AccessRuleSpec struct {
	User        string      `json:"user,omitempty"`
	Group       string      `json:"group,omitempty"`
	AccessLevel AccessLevel `json:"access_level,omitempty"`
	// GroupInheritanceType is InheritDirect or InheritAll.
	GroupInheritanceType int `json:"group_inheritance_type,omitempty"`
}

// ApprovalRuleSpec is a deployment approval rule.
type ApprovalRuleSpec struct {
	AccessRuleSpec
	// RequiredApprovals is 1..5.
	RequiredApprovals int `json:"required_approvals"`
}

// ProtectedEnvironmentSpec protects an environment of a project, or, with
// Group set, every environment of that tier in the group's projects.
type ProtectedEnvironmentSpec struct {
	Project string `json:"project,omitempty"`
	Group   string `json:"group,omitempty"`
	// Name is the environment name (project level) or tier (group level).
	Name string `json:"name"`
	// DeployAccessLevels default to Maintainer access.
	DeployAccessLevels []AccessRuleSpec   `json:"deploy_access_levels,omitempty"`
	ApprovalRules      []ApprovalRuleSpec `json:"approval_rules,omitempty"`
	// RequiredApprovalCount is the legacy unified approval setting.
	RequiredApprovalCount int `json:"required_approval_count,omitempty"`
}

// HookSpec registers a project webhook.
type HookSpec struct {
	Project string `json:"project"`
	URL     string `json:"url"`
	// Token is sent as X-Gitlab-Token.
	Token string `json:"token,omitempty"`
}

// AddUser seeds a user and returns its ID.
func (f *Fake) AddUser(s UserSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addUser(s)
}

func (f *Fake) addUser(s UserSpec) (int64, error) {
	key := strings.ToLower(s.Username)
	if key == "" || f.usersByName[key] != nil {
		return 0, fmt.Errorf("%w: username %q is empty or taken", ErrInvalid, s.Username)
	}
	id := f.claimID("user", s.ID)
	u := &user{id: id, username: s.Username, name: defaultString(s.Name, s.Username),
		email: defaultString(s.Email, key+"@example.com"), admin: s.Admin}
	f.usersByID[id], f.usersByName[key] = u, u
	return id, nil
}

// claimID returns want, or the next free ID of the kind when want is 0.
func (f *Fake) claimID(kind string, want int64) int64 {
	if want == 0 {
		return f.next(kind)
	}
	if want > f.seq[kind] {
		f.seq[kind] = want
	}
	return want
}

func (f *Fake) userNamed(name string) (*user, error) {
	u := f.usersByName[strings.ToLower(name)]
	if u == nil {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	return u, nil
}

func (f *Fake) projectNamed(id string) (*project, error) {
	p := f.lookupProject(id)
	if p == nil {
		return nil, fmt.Errorf("%w: project %q", ErrNotFound, id)
	}
	return p, nil
}

func (f *Fake) projectAndUser(projectID, username string) (*project, *user, error) {
	p, err := f.projectNamed(projectID)
	if err != nil {
		return nil, nil, err
	}
	u, err := f.userNamed(username)
	return p, u, err
}

// AddToken seeds a credential.
func (f *Fake) AddToken(s TokenSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addToken(s)
}

func (f *Fake) addToken(s TokenSpec) error {
	if s.Token == "" || f.tokens[s.Token] != nil {
		return fmt.Errorf("%w: token is empty or already used", ErrInvalid)
	}
	u, err := f.userNamed(s.User)
	if err != nil {
		return err
	}
	t := &token{value: s.Token, kind: s.Kind, user: u, scopes: s.Scopes, expiresAt: s.ExpiresAt, revoked: s.Revoked}
	if t.kind == "" {
		t.kind = PersonalToken
	}
	if len(t.scopes) == 0 {
		t.scopes = []string{scopeAPI}
	}
	if t.kind == JobToken {
		if t.project, err = f.projectNamed(s.Project); err != nil {
			return err
		}
	}
	f.tokens[s.Token] = t
	return nil
}

// RevokeToken revokes a seeded token.
func (f *Fake) RevokeToken(value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tokens[value]
	if t == nil {
		return fmt.Errorf("%w: token", ErrNotFound)
	}
	t.revoked = true
	return nil
}

// AddGroup seeds a group and returns its ID.
func (f *Fake) AddGroup(s GroupSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.addGroup(s)
	if err != nil {
		return 0, err
	}
	return g.id, nil
}

func (f *Fake) addGroup(s GroupSpec) (*group, error) {
	key := strings.ToLower(strings.Trim(s.Path, "/"))
	if key == "" || f.groupsByPath[key] != nil {
		return nil, fmt.Errorf("%w: group path %q is empty or taken", ErrInvalid, s.Path)
	}
	var parent *group
	if i := strings.LastIndex(key, "/"); i > 0 {
		if parent = f.groupsByPath[key[:i]]; parent == nil {
			return nil, fmt.Errorf("%w: parent group %q", ErrNotFound, key[:i])
		}
	}
	path := strings.Trim(s.Path, "/")
	g := &group{id: f.claimID("namespace", s.ID), name: defaultString(s.Name, path[strings.LastIndex(path, "/")+1:]),
		fullPath: path, parent: parent, members: map[int64]AccessLevel{}}
	if err := f.setMembers(g.members, s.Members); err != nil {
		return nil, err
	}
	f.groupsByID[g.id], f.groupsByPath[key] = g, g
	return g, nil
}

func (f *Fake) setMembers(into map[int64]AccessLevel, members map[string]AccessLevel) error {
	for name, level := range members {
		u, err := f.userNamed(name)
		if err != nil {
			return err
		}
		into[u.id] = level
	}
	return nil
}

func (f *Fake) groupNamed(id string) (*group, error) {
	var g *group
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		g = f.groupsByID[n]
	} else {
		g = f.groupsByPath[strings.ToLower(id)]
	}
	if g == nil {
		return nil, fmt.Errorf("%w: group %q", ErrNotFound, id)
	}
	return g, nil
}

// AddGroupMember adds or changes a user's role in a group.
func (f *Fake) AddGroupMember(groupID, username string, level AccessLevel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.groupNamed(groupID)
	if err != nil {
		return err
	}
	return f.setMembers(g.members, map[string]AccessLevel{username: level})
}
