package gitlabtest

import (
	"strconv"
	"time"
)

// commitJSON is API::Entities::Commit.
type commitJSON struct {
	ID               string            `json:"id"`
	ShortID          string            `json:"short_id"`
	CreatedAt        apiTime           `json:"created_at"`
	ParentIDs        []string          `json:"parent_ids"`
	Title            string            `json:"title"`
	Message          string            `json:"message"`
	AuthorName       string            `json:"author_name"`
	AuthorEmail      string            `json:"author_email"`
	AuthoredDate     apiTime           `json:"authored_date"`
	CommitterName    string            `json:"committer_name"`
	CommitterEmail   string            `json:"committer_email"`
	CommittedDate    apiTime           `json:"committed_date"`
	Trailers         map[string]string `json:"trailers"`
	ExtendedTrailers map[string]string `json:"extended_trailers"`
	WebURL           string            `json:"web_url"`
}

// pipelineJSON is API::Entities::Ci::PipelineBasic.
type pipelineJSON struct {
	ID        int64   `json:"id"`
	IID       int64   `json:"iid"`
	ProjectID int64   `json:"project_id"`
	SHA       string  `json:"sha"`
	Ref       string  `json:"ref"`
	Status    string  `json:"status"`
	Source    string  `json:"source"`
	CreatedAt apiTime `json:"created_at"`
	UpdatedAt apiTime `json:"updated_at"`
	WebURL    string  `json:"web_url"`
}

type jobProjectJSON struct {
	CIJobTokenScopeEnabled bool `json:"ci_job_token_scope_enabled"`
}

// jobJSON is API::Entities::Ci::Job.
type jobJSON struct {
	ID                int64          `json:"id"`
	Status            string         `json:"status"`
	Stage             string         `json:"stage"`
	Name              string         `json:"name"`
	Ref               string         `json:"ref"`
	Tag               bool           `json:"tag"`
	Coverage          *float64       `json:"coverage"`
	AllowFailure      bool           `json:"allow_failure"`
	CreatedAt         apiTime        `json:"created_at"`
	StartedAt         apiTime        `json:"started_at"`
	FinishedAt        apiTime        `json:"finished_at"`
	ErasedAt          apiTime        `json:"erased_at"`
	Duration          *float64       `json:"duration"`
	QueuedDuration    *float64       `json:"queued_duration"`
	User              *userJSON      `json:"user"`
	Commit            *commitJSON    `json:"commit"`
	Pipeline          pipelineJSON   `json:"pipeline"`
	FailureReason     string         `json:"failure_reason,omitempty"`
	WebURL            string         `json:"web_url"`
	Project           jobProjectJSON `json:"project"`
	Artifacts         []any          `json:"artifacts"`
	Runner            any            `json:"runner"`
	RunnerManager     any            `json:"runner_manager"`
	ArtifactsExpireAt apiTime        `json:"artifacts_expire_at"`
	Archived          bool           `json:"archived"`
	TagList           []string       `json:"tag_list"`
}

func seconds(from, to time.Time) *float64 {
	if from.IsZero() || to.IsZero() {
		return nil
	}
	s := to.Sub(from).Seconds()
	return &s
}

func (f *Fake) jobJSON(j *job, base string) *jobJSON {
	if j == nil {
		return nil
	}
	projectURL := base + "/" + j.project.fullPath
	out := &jobJSON{
		ID: j.id, Status: j.status, Stage: j.stage, Name: j.name, Ref: j.ref, Tag: j.tag,
		AllowFailure: j.allowFailure, CreatedAt: apiTime(j.createdAt), StartedAt: apiTime(j.startedAt),
		FinishedAt: apiTime(j.finishedAt), QueuedDuration: seconds(j.queuedAt, j.startedAt),
		User: userFull(j.user, base), Commit: commitEntity(j.project, j.sha, base),
		Pipeline: pipelineJSON{ID: j.pipeline.id, IID: j.pipeline.iid, ProjectID: j.project.id, SHA: j.pipeline.sha,
			Ref: j.pipeline.ref, Status: j.pipeline.status, Source: j.pipeline.source,
			CreatedAt: apiTime(j.pipeline.createdAt), UpdatedAt: apiTime(j.pipeline.updatedAt),
			WebURL: projectURL + "/-/pipelines/" + strconv.FormatInt(j.pipeline.id, 10)},
		WebURL:    projectURL + "/-/jobs/" + strconv.FormatInt(j.id, 10),
		Project:   jobProjectJSON{CIJobTokenScopeEnabled: true},
		Artifacts: []any{}, TagList: []string{},
	}
	if j.status == JobFailed {
		out.FailureReason = j.failureReason
	}
	if !j.startedAt.IsZero() {
		end := j.finishedAt
		if end.IsZero() {
			end = f.now()
		}
		out.Duration = seconds(j.startedAt, end)
	}
	return out
}

func commitEntity(p *project, sha, base string) *commitJSON {
	c := p.commits[sha]
	if c == nil {
		c = &commit{sha: sha}
	}
	short := c.sha
	if len(short) > 8 {
		short = short[:8]
	}
	msg := c.message
	if msg == "" {
		msg = c.title
	}
	return &commitJSON{ID: c.sha, ShortID: short, CreatedAt: apiTime(c.createdAt), ParentIDs: []string{},
		Title: c.title, Message: msg, AuthorName: c.authorName, AuthorEmail: c.authorEmail,
		AuthoredDate: apiTime(c.createdAt), CommitterName: c.authorName, CommitterEmail: c.authorEmail,
		CommittedDate: apiTime(c.createdAt), Trailers: map[string]string{}, ExtendedTrailers: map[string]string{},
		WebURL: base + "/" + p.fullPath + "/-/commit/" + c.sha}
}
