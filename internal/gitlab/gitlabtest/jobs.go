package gitlabtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// Errors returned by the Go API.
var (
	// ErrNotFound is returned when a named project, user, group, job or
	// deployment does not exist.
	ErrNotFound = errors.New("gitlabtest: not found")
	// ErrInvalid is returned for a seed or an action GitLab would refuse.
	ErrInvalid = errors.New("gitlabtest: invalid")
)

// Job statuses, with GitLab's names.
const (
	JobCreated  = "created"
	JobPending  = "pending"
	JobRunning  = "running"
	JobSuccess  = "success"
	JobFailed   = "failed"
	JobCanceled = "canceled"
	JobManual   = "manual"
)

// JobSpec describes a CI job of a new pipeline that deploys to an
// environment.
type JobSpec struct {
	// Project is the project's numeric ID or full path.
	Project string `json:"project"`
	// Environment is the environment the job deploys to; it is created
	// when missing.
	Environment string `json:"environment"`
	// Ref is the branch or tag of the pipeline.
	Ref string `json:"ref"`
	// SHA is the pipeline's commit; defaults to the commit Ref points at.
	SHA string `json:"sha,omitempty"`
	// Tag says Ref is a tag.
	Tag bool `json:"tag,omitempty"`
	// Name is the job name; defaults to "deploy".
	Name string `json:"name,omitempty"`
	// Stage is the job's stage; defaults to "deploy".
	Stage string `json:"stage,omitempty"`
	// User is the username of the pipeline's user.
	User string `json:"user"`
	// Manual makes the job when: manual. A job deploying to an environment
	// that needs approvals is manual regardless.
	Manual bool `json:"manual,omitempty"`
}

// Job is a snapshot of a CI job and its deployment.
type Job struct {
	ID            int64  `json:"id"`
	PipelineID    int64  `json:"pipeline_id"`
	ProjectID     int64  `json:"project_id"`
	Name          string `json:"name"`
	Stage         string `json:"stage"`
	Status        string `json:"status"`
	FailureReason string `json:"failure_reason,omitempty"`
	Ref           string `json:"ref"`
	SHA           string `json:"sha"`
	User          string `json:"user"`
	// Token is the job's CI_JOB_TOKEN; GitLab accepts it while the job runs.
	Token            string `json:"token"`
	DeploymentID     int64  `json:"deployment_id,omitempty"`
	DeploymentIID    int64  `json:"deployment_iid,omitempty"`
	DeploymentStatus string `json:"deployment_status,omitempty"`
}

func jobSnapshot(j *job) Job {
	out := Job{ID: j.id, PipelineID: j.pipeline.id, ProjectID: j.project.id, Name: j.name, Stage: j.stage,
		Status: j.status, FailureReason: j.failureReason, Ref: j.ref, SHA: j.sha, Token: j.token}
	if j.user != nil {
		out.User = j.user.username
	}
	if d := j.deployment; d != nil {
		out.DeploymentID, out.DeploymentIID, out.DeploymentStatus = d.id, d.iid, d.status
	}
	return out
}

// CreateJob creates a pipeline with one deployment job and the job's
// deployment, as GitLab does when a pipeline reaches a job with an
// environment. A job that deploys to an environment needing approvals, or
// a manual job, is manual and its deployment blocked; otherwise the job
// is pending and the deployment created.
func (f *Fake) CreateJob(spec JobSpec) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, u, err := f.projectAndUser(spec.Project, spec.User)
	if err != nil {
		return Job{}, err
	}
	sha, ok := p.resolveCommit(spec.Ref)
	if spec.SHA != "" {
		sha, ok = spec.SHA, true
	}
	if !ok || sha == "" {
		return Job{}, fmt.Errorf("%w: ref %q does not resolve to a commit; give sha", ErrInvalid, spec.Ref)
	}
	env, aerr := f.findOrCreateEnvironment(p, spec.Environment)
	if aerr != nil {
		return Job{}, fmt.Errorf("%w: environment: %w", ErrInvalid, aerr)
	}
	j := f.newJob(p, spec, sha, u)
	d := f.newDeployment(p, env, spec.Ref, sha, spec.Tag, u)
	d.job, j.deployment = j, d
	if spec.Manual || f.requiredApprovalCount(env) > 0 {
		f.setJobStatus(j, JobManual)
	} else {
		f.setJobStatus(j, JobPending)
	}
	return jobSnapshot(j), nil
}

func (f *Fake) newJob(p *project, spec JobSpec, sha string, u *user) *job {
	now := f.now()
	p.lastPipelineIID++
	pl := &pipeline{id: f.next("pipeline"), iid: p.lastPipelineIID, project: p, sha: sha, ref: spec.Ref,
		status: JobCreated, source: "push", user: u, createdAt: now, updatedAt: now}
	j := &job{id: f.next("job"), project: p, pipeline: pl, name: defaultString(spec.Name, "deploy"),
		stage: defaultString(spec.Stage, "deploy"), status: JobCreated, ref: spec.Ref, sha: sha, tag: spec.Tag,
		user: u, createdAt: now, token: newJobToken()}
	f.jobsByID[j.id] = j
	return j
}

func newJobToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "glcbt-" + hex.EncodeToString(b)
}

func defaultString(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// jobToDeployment maps job statuses to the deployment status they sync to.
var jobToDeployment = map[string]string{
	JobRunning: StatusRunning, JobSuccess: StatusSuccess, JobFailed: StatusFailed,
	JobCanceled: StatusCanceled, JobManual: StatusBlocked, "skipped": StatusSkipped,
}

// setJobStatus moves a job and syncs its deployment (sync_status_with).
func (f *Fake) setJobStatus(j *job, status string) {
	now := f.now()
	j.status = status
	j.pipeline.status, j.pipeline.updatedAt = status, now
	switch status {
	case JobPending:
		j.queuedAt = now
	case JobRunning:
		j.startedAt = now
		f.tokens[j.token] = &token{value: j.token, kind: JobToken, user: j.user, project: j.project, job: j}
	case JobSuccess, JobFailed, JobCanceled:
		j.finishedAt = now
		delete(f.tokens, j.token)
	}
	d := j.deployment
	if target, ok := jobToDeployment[status]; ok && d != nil && canTransition(d.status, target) {
		_ = f.transition(d, target, f.base(nil))
	}
}

func (f *Fake) job(id int64) (*job, error) {
	j := f.jobsByID[id]
	if j == nil {
		return nil, fmt.Errorf("%w: job %d", ErrNotFound, id)
	}
	return j, nil
}

// moveJob applies a lifecycle step to a job in one of the allowed statuses.
func (f *Fake) moveJob(id int64, to string, from ...string) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.job(id)
	if err != nil {
		return Job{}, err
	}
	if !slices.Contains(from, j.status) {
		return Job{}, fmt.Errorf("%w: job %d is %s, cannot become %s", ErrInvalid, id, j.status, to)
	}
	if to == JobFailed && j.failureReason == "" {
		j.failureReason = "script_failure"
	}
	f.setJobStatus(j, to)
	return jobSnapshot(j), nil
}

// PlayJob plays a manual job as the named user (manual → pending). GitLab
// refuses while the deployment waits for approval rules to be met, and
// to users who may not deploy to the environment.
func (f *Fake) PlayJob(id int64, username string) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.job(id)
	if err != nil {
		return Job{}, err
	}
	u := f.usersByName[username]
	if u == nil {
		return Job{}, fmt.Errorf("%w: user %q", ErrNotFound, username)
	}
	if j.status != JobManual {
		return Job{}, fmt.Errorf("%w: job %d is %s, not manual", ErrInvalid, id, j.status)
	}
	if d := j.deployment; d != nil {
		if !f.canOnEnvironment(u, abilityUpdateDeployment, d.env) {
			return Job{}, fmt.Errorf("%w: %s may not deploy to %s", ErrInvalid, username, d.env.name)
		}
		if f.pendingApprovalCount(d) > 0 {
			return Job{}, fmt.Errorf("%w: job %d is waiting for deployment approval", ErrInvalid, id)
		}
	}
	j.user = u
	f.setJobStatus(j, JobPending)
	return jobSnapshot(j), nil
}

// RunJob starts a pending job (pending → running); its deployment becomes
// running and its job token valid.
func (f *Fake) RunJob(id int64) (Job, error) { return f.moveJob(id, JobRunning, JobPending) }

// SucceedJob finishes a running job successfully; its deployment succeeds.
func (f *Fake) SucceedJob(id int64) (Job, error) { return f.moveJob(id, JobSuccess, JobRunning) }

// FailJob fails a job that has not finished; its deployment fails.
func (f *Fake) FailJob(id int64) (Job, error) {
	return f.moveJob(id, JobFailed, JobCreated, JobPending, JobRunning, JobManual)
}

// CancelJob cancels a job that has not finished; its deployment is canceled.
func (f *Fake) CancelJob(id int64) (Job, error) {
	return f.moveJob(id, JobCanceled, JobCreated, JobPending, JobRunning, JobManual)
}

// Job returns a snapshot of a job.
func (f *Fake) Job(id int64) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.job(id)
	if err != nil {
		return Job{}, err
	}
	return jobSnapshot(j), nil
}
