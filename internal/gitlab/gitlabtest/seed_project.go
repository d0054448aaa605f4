package gitlabtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// AddProject seeds a project and returns its ID.
func (f *Fake) AddProject(s ProjectSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.addProject(s)
	if err != nil {
		return 0, err
	}
	return p.id, nil
}

func (f *Fake) addProject(s ProjectSpec) (*project, error) {
	path := strings.Trim(s.Path, "/")
	key := strings.ToLower(path)
	i := strings.LastIndex(path, "/")
	if i <= 0 || f.projectsPath[key] != nil {
		return nil, fmt.Errorf("%w: project path %q must be namespace/name and unused", ErrInvalid, s.Path)
	}
	ns, err := f.ensureGroup(path[:i])
	if err != nil {
		return nil, err
	}
	p := &project{id: f.claimID("project", s.ID), name: path[i+1:], fullPath: path, description: s.Description,
		visibility: s.Visibility, defaultBranch: defaultString(s.DefaultBranch, "main"), namespace: ns,
		members: map[int64]AccessLevel{}, acceptAnySHA: s.AcceptAnySHA || f.cfg.acceptAnySHA,
		acceptAnyRef: s.AcceptAnyRef || f.cfg.acceptAnyRef, environmentsDisabled: s.EnvironmentsDisabled,
		allowTriggerApprove: s.AllowPipelineTriggerApproveDeployment, branches: map[string]string{},
		tags: map[string]string{}, commits: map[string]*commit{}, jobTokenAllowlist: map[int64][]string{}}
	if p.visibility == "" {
		p.visibility = Private
	}
	if err := f.fillProject(p, s); err != nil {
		return nil, err
	}
	f.projectsByID[p.id], f.projectsPath[key] = p, p
	return p, nil
}

func (f *Fake) fillProject(p *project, s ProjectSpec) error {
	for _, c := range s.Commits {
		if err := f.addCommit(p, c); err != nil {
			return err
		}
	}
	for name, sha := range s.Branches {
		if _, dup := s.History[name]; dup {
			return fmt.Errorf("%w: branch %q is in both branches and history", ErrInvalid, name)
		}
		if err := f.setRef(p, p.branches, name, sha); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.History)) {
		shas := make([]string, 0, len(s.History[name]))
		for _, sha := range s.History[name] {
			shas = append(shas, strings.ToLower(sha))
		}
		if err := f.appendHistory(p, name, shas); err != nil {
			return err
		}
	}
	for name, sha := range s.Tags {
		if err := f.setRef(p, p.tags, name, sha); err != nil {
			return err
		}
	}
	for _, a := range s.JobTokenAllowlist {
		src, err := f.projectNamed(a.Project)
		if err != nil {
			return err
		}
		p.jobTokenAllowlist[src.id] = a.Policies
	}
	return f.setMembers(p.members, s.Members)
}

// ensureGroup returns the group at path, creating it and its ancestors.
func (f *Fake) ensureGroup(path string) (*group, error) {
	if g := f.groupsByPath[strings.ToLower(path)]; g != nil {
		return g, nil
	}
	if i := strings.LastIndex(path, "/"); i > 0 {
		if _, err := f.ensureGroup(path[:i]); err != nil {
			return nil, err
		}
	}
	return f.addGroup(GroupSpec{Path: path})
}

func (f *Fake) addCommit(p *project, c CommitSpec) error {
	if !isFullSHA(c.SHA) {
		return fmt.Errorf("%w: commit SHA %q must be 40 hex characters", ErrInvalid, c.SHA)
	}
	sha := strings.ToLower(c.SHA)
	created := c.CreatedAt
	if created.IsZero() {
		created = f.now()
	}
	p.commits[sha] = &commit{sha: sha, title: defaultString(c.Title, "Commit "+sha[:8]), message: c.Message,
		authorName:  defaultString(c.AuthorName, "Fake Author"),
		authorEmail: defaultString(c.AuthorEmail, "author@example.com"),
		createdAt:   created.UTC()}
	return nil
}

func (f *Fake) setRef(p *project, refs map[string]string, name, sha string) error {
	if !isRefName(name) {
		return fmt.Errorf("%w: ref name %q", ErrInvalid, name)
	}
	if _, ok := p.commits[strings.ToLower(sha)]; !ok {
		if err := f.addCommit(p, CommitSpec{SHA: sha}); err != nil {
			return err
		}
	}
	refs[name] = strings.ToLower(sha)
	return nil
}

// AddCommit adds a commit to a project's repository.
func (f *Fake) AddCommit(projectID string, c CommitSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return err
	}
	return f.addCommit(p, c)
}

// SetBranch creates or moves a branch to sha, creating the commit if needed.
func (f *Fake) SetBranch(projectID, name, sha string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return err
	}
	return f.setRef(p, p.branches, name, sha)
}

// SetTag creates or moves a tag to sha, creating the commit if needed.
func (f *Fake) SetTag(projectID, name, sha string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return err
	}
	return f.setRef(p, p.tags, name, sha)
}

// AddMember adds or changes a user's role in a project.
func (f *Fake) AddMember(projectID, username string, level AccessLevel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(projectID)
	if err != nil {
		return err
	}
	return f.setMembers(p.members, map[string]AccessLevel{username: level})
}

// AddMergeRequest seeds a merge request and returns its ID. Merged merge
// requests are linked to deployments of their target branch when those
// succeed.
func (f *Fake) AddMergeRequest(s MergeRequestSpec) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(s.Project)
	if err != nil {
		return 0, err
	}
	author := p.firstMember(f)
	if s.Author != "" {
		if author, err = f.userNamed(s.Author); err != nil {
			return 0, err
		}
	}
	now := f.now()
	created := s.CreatedAt.UTC()
	if created.IsZero() {
		created = now
	}
	p.lastMRIID++
	mr := &mergeRequest{id: f.next("merge_request"), iid: p.lastMRIID, project: p, title: s.Title,
		sourceBranch: defaultString(s.SourceBranch, "feature"), targetBranch: s.TargetBranch,
		state: defaultString(s.State, mrMerged), author: author, createdAt: created, updatedAt: now,
		mergeCommitSHA: strings.ToLower(s.MergeCommitSHA), squashCommitSHA: strings.ToLower(s.SquashCommitSHA),
		sha: strings.ToLower(defaultString(s.SquashCommitSHA, s.MergeCommitSHA))}
	for _, c := range s.CherryPickSHAs {
		mr.cherryPickSHAs = append(mr.cherryPickSHAs, strings.ToLower(c))
	}
	if !slices.Contains([]string{"opened", mrClosed, "locked", mrMerged}, mr.state) {
		return 0, fmt.Errorf("%w: merge request state %q", ErrInvalid, mr.state)
	}
	switch mr.state {
	case mrMerged:
		mr.mergedAt = s.MergedAt.UTC()
		if mr.mergedAt.IsZero() {
			mr.mergedAt = now
		}
	case mrClosed:
		mr.closedAt = now
	}
	p.mergeRequests = append(p.mergeRequests, mr)
	return mr.id, nil
}

func (p *project) firstMember(f *Fake) *user {
	var best *user
	for id := range p.members {
		if u := f.usersByID[id]; u != nil && (best == nil || u.id < best.id) {
			best = u
		}
	}
	return best
}

// AddHook registers a project webhook that receives deployment events.
func (f *Fake) AddHook(s HookSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.projectNamed(s.Project)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return fmt.Errorf("%w: hook URL %q", ErrInvalid, s.URL)
	}
	p.hooks = append(p.hooks, &hook{id: f.next("hook"), url: s.URL, token: s.Token, events: true})
	return nil
}
