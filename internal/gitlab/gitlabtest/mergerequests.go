package gitlabtest

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// linkMergeRequests is Deployments::LinkMergeRequestsService, run when a
// deployment succeeds:
//
//   - nothing is linked for an environment in a folder ("review/app-1")
//     unless its tier is production or staging
//     (Environment#should_link_to_merge_requests?);
//   - with a previous successful deployment of the environment (the newest
//     one with a smaller ID, Deployment#previous_deployment), the merged
//     merge requests whose merge or squash commit is in the commit range
//     previous.sha..deployment.sha, and the merge requests (in any state)
//     cherry-picked by a commit of that range;
//   - without one, every merged merge request whose target branch is the
//     deployment's ref.
//
// The fake has no git graph. A commit range is read from the branches'
// first-parent histories (ProjectSpec.History, PushCommits); see
// commitsBetween for the approximation. GitLab finds cherry-picks through
// system notes; the fake through MergeRequestSpec.CherryPickSHAs.
func (f *Fake) linkMergeRequests(d *deployment) {
	if !d.env.shouldLinkToMergeRequests() {
		return
	}
	p := d.project
	prev := previousDeployment(d)
	if prev == nil {
		for _, mr := range p.mergeRequests {
			if mr.state == mrMerged && mr.targetBranch == d.ref {
				link(d, mr)
			}
		}
		return
	}
	shas := p.commitsBetween(prev.sha, d.sha, d.ref)
	for _, sha := range shas {
		for _, mr := range p.mergeRequests {
			if mr.state == mrMerged && (mr.mergeCommitSHA == sha || (mr.squashCommitSHA != "" && mr.squashCommitSHA == sha)) {
				link(d, mr)
			}
		}
	}
	for _, mr := range p.mergeRequests {
		for _, sha := range mr.cherryPickSHAs {
			if slices.Contains(shas, sha) {
				link(d, mr)
			}
		}
	}
}

// shouldLinkToMergeRequests is Environment#should_link_to_merge_requests?.
func (e *environment) shouldLinkToMergeRequests() bool {
	return e.environmentType() == "" || e.tier == tierProduction || e.tier == tierStaging
}

// link is Deployment#link_merge_requests for one merge request: a
// deployment links a merge request at most once.
func link(d *deployment, mr *mergeRequest) {
	if !linked(d, mr) {
		d.mergeRequests = append(d.mergeRequests, mr)
	}
}

// commitsBetween approximates `git log from..to` (what
// Repository#commits_between returns) on the fake's linear branch
// histories. The history used is the deployed ref's if it contains to,
// else the first branch (by name) whose history does. On it:
//
//   - from before to: the commits after from, up to and including to;
//   - from at or after to (a redeploy or a rollback): none;
//   - from not on that history: all of it up to and including to.
//
// A to on no history is taken to be a commit of unknown ancestry: the
// range is that commit alone.
func (p *project) commitsBetween(from, to, ref string) []string {
	hist := p.historyContaining(to, ref)
	j := slices.Index(hist, to)
	if j < 0 {
		return []string{to}
	}
	switch i := slices.Index(hist, from); {
	case i < 0:
		return hist[:j+1]
	case i >= j:
		return nil
	default:
		return hist[i+1 : j+1]
	}
}

func (p *project) historyContaining(sha, ref string) []string {
	branch := strings.TrimPrefix(ref, "refs/heads/")
	if slices.Contains(p.history[branch], sha) {
		return p.history[branch]
	}
	for _, name := range slices.Sorted(maps.Keys(p.history)) {
		if slices.Contains(p.history[name], sha) {
			return p.history[name]
		}
	}
	return nil
}

func linked(d *deployment, mr *mergeRequest) bool { return slices.Contains(d.mergeRequests, mr) }

var (
	mrStates  = []string{"opened", mrClosed, "locked", mrMerged, mrAll}
	mrOrderBy = []string{
		orderByCreated, "label_priority", "milestone_due", "popularity", "priority", "title", orderByUpdated, "merged_at",
	}
)

// listDeploymentMergeRequests serves GET
// /projects/:id/deployments/:deployment_id/merge_requests. Like GitLab, it
// does not check that the deployment exists or belongs to the project.
func (f *Fake) listDeploymentMergeRequests(c *call) *apiError {
	v := validator{p: c.p}
	pr := parsePage(&v)
	id, _ := v.integer("deployment_id", true)
	state, ok := v.str("state", false, mrStates...)
	if !ok {
		state = mrAll
	}
	orderBy, ok := v.str("order_by", false, mrOrderBy...)
	if !ok {
		orderBy = orderByCreated
	}
	dir, ok := v.str("sort", false, sortAsc, sortDesc)
	if !ok {
		dir = sortDesc
	}
	if err := v.err(); err != nil {
		return err
	}
	p, err := f.findProject(c)
	if err != nil {
		return err
	}
	if !f.can(c.who.user, abilityReadDeployment, p) {
		return forbidden("")
	}
	c.p["state"], c.p["order_by"], c.p["sort"] = param{value: state}, param{value: orderBy}, param{value: dir}
	rows := f.deploymentMergeRequests(c.who.user, id, state)
	sortMergeRequests(rows, orderBy, dir == sortDesc)
	start, end := pr.window(len(rows))
	out := make([]mergeRequestJSON, 0, end-start)
	for _, mr := range rows[start:end] {
		out = append(out, mergeRequestEntity(mr, c.base))
	}
	pr.setHeaders(c, len(rows))
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (f *Fake) deploymentMergeRequests(u *user, id int64, state string) []*mergeRequest {
	d := f.deployByID[id]
	if d == nil {
		return nil
	}
	var rows []*mergeRequest
	for _, mr := range d.mergeRequests {
		if (state == mrAll || mr.state == state) && f.canReadProject(u, mr.project) {
			rows = append(rows, mr)
		}
	}
	return rows
}

func sortMergeRequests(rows []*mergeRequest, orderBy string, desc bool) {
	slices.SortStableFunc(rows, func(a, b *mergeRequest) int {
		var c int
		switch orderBy {
		case "title":
			c = strings.Compare(a.title, b.title)
		case orderByUpdated:
			c = a.updatedAt.Compare(b.updatedAt)
		case "merged_at":
			c = a.mergedAt.Compare(b.mergedAt)
		default:
			c = a.createdAt.Compare(b.createdAt)
		}
		if c == 0 {
			c = cmp.Compare(a.id, b.id)
		}
		if desc {
			c = -c
		}
		return c
	})
}

// mergeRequestJSON is API::Entities::MergeRequestBasic.
type mergeRequestJSON struct {
	ID                        int64             `json:"id"`
	IID                       int64             `json:"iid"`
	ProjectID                 int64             `json:"project_id"`
	Title                     string            `json:"title"`
	Description               string            `json:"description"`
	State                     string            `json:"state"`
	CreatedAt                 apiTime           `json:"created_at"`
	UpdatedAt                 apiTime           `json:"updated_at"`
	MergedBy                  *userBasicJSON    `json:"merged_by"`
	MergeUser                 *userBasicJSON    `json:"merge_user"`
	MergedAt                  apiTime           `json:"merged_at"`
	ClosedBy                  *userBasicJSON    `json:"closed_by"`
	ClosedAt                  apiTime           `json:"closed_at"`
	TargetBranch              string            `json:"target_branch"`
	SourceBranch              string            `json:"source_branch"`
	UserNotesCount            int               `json:"user_notes_count"`
	Upvotes                   int               `json:"upvotes"`
	Downvotes                 int               `json:"downvotes"`
	Author                    *userBasicJSON    `json:"author"`
	Assignees                 []userBasicJSON   `json:"assignees"`
	Assignee                  *userBasicJSON    `json:"assignee"`
	Reviewers                 []userBasicJSON   `json:"reviewers"`
	SourceProjectID           int64             `json:"source_project_id"`
	TargetProjectID           int64             `json:"target_project_id"`
	Labels                    []string          `json:"labels"`
	Draft                     bool              `json:"draft"`
	WorkInProgress            bool              `json:"work_in_progress"`
	Milestone                 any               `json:"milestone"`
	MergeWhenPipelineSucceeds bool              `json:"merge_when_pipeline_succeeds"`
	MergeStatus               string            `json:"merge_status"`
	DetailedMergeStatus       string            `json:"detailed_merge_status"`
	SHA                       string            `json:"sha"`
	MergeCommitSHA            *string           `json:"merge_commit_sha"`
	SquashCommitSHA           *string           `json:"squash_commit_sha"`
	DiscussionLocked          *bool             `json:"discussion_locked"`
	ShouldRemoveSourceBranch  *bool             `json:"should_remove_source_branch"`
	ForceRemoveSourceBranch   *bool             `json:"force_remove_source_branch"`
	Reference                 string            `json:"reference"`
	References                map[string]string `json:"references"`
	WebURL                    string            `json:"web_url"`
	Squash                    bool              `json:"squash"`
	SquashOnMerge             bool              `json:"squash_on_merge"`
	HasConflicts              bool              `json:"has_conflicts"`
	BlockingDiscussions       bool              `json:"blocking_discussions_resolved"`
}

func mergeRequestEntity(mr *mergeRequest, base string) mergeRequestJSON {
	ref := "!" + strconv.FormatInt(mr.iid, 10)
	out := mergeRequestJSON{
		ID: mr.id, IID: mr.iid, ProjectID: mr.project.id, Title: mr.title, Description: mr.description,
		State: mr.state, CreatedAt: apiTime(mr.createdAt), UpdatedAt: apiTime(mr.updatedAt),
		MergedAt: apiTime(mr.mergedAt), ClosedAt: apiTime(mr.closedAt), TargetBranch: mr.targetBranch,
		SourceBranch: mr.sourceBranch, Author: userBasic(mr.author, base), Assignees: []userBasicJSON{},
		Reviewers: []userBasicJSON{}, SourceProjectID: mr.project.id, TargetProjectID: mr.project.id,
		Labels: []string{}, MergeStatus: "can_be_merged", DetailedMergeStatus: "mergeable", SHA: mr.sha,
		Reference: ref, References: map[string]string{"short": ref, "relative": ref, "full": mr.project.fullPath + ref},
		WebURL:              base + "/" + mr.project.fullPath + "/-/merge_requests/" + strconv.FormatInt(mr.iid, 10),
		BlockingDiscussions: true,
	}
	if mr.state == mrMerged {
		out.MergedBy, out.MergeUser = userBasic(mr.author, base), userBasic(mr.author, base)
		out.DetailedMergeStatus = "not_open"
		if mr.mergeCommitSHA != "" {
			sha := mr.mergeCommitSHA
			out.MergeCommitSHA = &sha
		}
	}
	if mr.state == mrClosed {
		out.ClosedBy = userBasic(mr.author, base)
		out.DetailedMergeStatus = "not_open"
	}
	return out
}
