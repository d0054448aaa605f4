package gitlabtest

// Deployment statuses, with GitLab's names.
const (
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusSuccess  = "success"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusSkipped  = "skipped"
	StatusBlocked  = "blocked"
)

// statusEvents maps a target status to the state-machine event reaching it.
var statusEvents = map[string]string{
	StatusRunning:  "run",
	StatusSuccess:  "succeed",
	StatusFailed:   "drop",
	StatusCanceled: "cancel",
	StatusSkipped:  "skip",
	StatusBlocked:  "block",
	StatusCreated:  "create",
}

// canTransition reports whether the event reaching `to` may fire from
// `from`, per Deployment's state machine.
func canTransition(from, to string) bool {
	switch to {
	case StatusRunning:
		return from == StatusCreated || from == StatusBlocked
	case StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped:
		return from != to
	case StatusBlocked:
		return from == StatusCreated
	case StatusCreated:
		return from == StatusSkipped
	}
	return false
}

// isFinished reports the statuses whose transition sets finished_at.
func isFinished(status string) bool {
	return status == StatusSuccess || status == StatusFailed || status == StatusCanceled
}

// transition fires the event that moves d to status, with the model's
// side effects; an illegal event is a validation error on status.
func (f *Fake) transition(d *deployment, status, base string) *apiError {
	if !canTransition(d.status, status) {
		return validationError("status", `cannot transition via "`+statusEvents[status]+`"`)
	}
	now := f.now()
	d.status = status
	d.updatedAt = now
	if isFinished(status) {
		d.finishedAt = now
	}
	switch status {
	case StatusRunning, StatusFailed, StatusCanceled:
		f.queueDeploymentHook(d, now, base)
	case StatusSuccess:
		f.linkMergeRequests(d)
		// Deployments::UpdateEnvironmentService starts a stopped
		// environment again.
		if d.env.state != envAvailable {
			d.env.state = envAvailable
		}
		d.env.updatedAt = now
		f.queueDeploymentHook(d, now, base)
	case StatusBlocked:
		// Only GitLab versions with the approval lifecycle events
		// (gitlab-org/gitlab!239337) send a hook when a deployment blocks.
		if f.cfg.approvalHooks {
			f.queueDeploymentHook(d, now, base)
		}
	}
	return nil
}

// lastDeployment is Environment#last_deployment: the newest successful
// deployment by finished_at.
func lastDeployment(env *environment) *deployment {
	var last *deployment
	for _, d := range env.project.deployments {
		if d.env != env || d.status != StatusSuccess {
			continue
		}
		if last == nil || d.finishedAt.After(last.finishedAt) ||
			(d.finishedAt.Equal(last.finishedAt) && d.id > last.id) {
			last = d
		}
	}
	return last
}

// previousDeployment is the newest successful deployment of the same
// environment created before d.
func previousDeployment(d *deployment) *deployment {
	var prev *deployment
	for _, o := range d.project.deployments {
		if o.env == d.env && o.status == StatusSuccess && o.id < d.id && (prev == nil || o.id > prev.id) {
			prev = o
		}
	}
	return prev
}

// newDeployment builds and stores a deployment in status created.
func (f *Fake) newDeployment(p *project, env *environment, ref, sha string, tag bool, u *user) *deployment {
	now := f.now()
	p.lastIID++
	d := &deployment{
		id: f.next("deployment"), iid: p.lastIID, project: p, env: env,
		ref: ref, sha: sha, tag: tag, status: StatusCreated, user: u,
		createdAt: now, updatedAt: now,
	}
	p.deployments = append(p.deployments, d)
	f.deployByID[d.id] = d
	return d
}

// removeDeployment deletes d from its project.
func (f *Fake) removeDeployment(d *deployment) {
	ds := d.project.deployments
	for i, o := range ds {
		if o == d {
			d.project.deployments = append(ds[:i:i], ds[i+1:]...)
			break
		}
	}
	delete(f.deployByID, d.id)
	if d.job != nil {
		d.job.deployment = nil
	}
}
