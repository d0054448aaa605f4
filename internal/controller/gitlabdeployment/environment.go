/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package gitlabdeployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/environment"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/rollout"
)

// environmentDecision is what the environment phase decided for the
// EnvironmentSynced condition (setEnvironmentSyncedCondition).
type environmentDecision struct {
	// absent: no environment annotation is set; the condition goes.
	absent bool
	// problem is why the metadata could not be synced; empty when it was
	// (the status then says whether values were kept, conflicts).
	problem problem
}

// reconcileEnvironment brings the GitLab environment's metadata in line with
// the Deployment's environment annotations. It runs for the current rollout
// once its record exists, and never holds the record up: its failures go to
// the EnvironmentSynced condition and a Warning Event, and are retried after
// GitLabRetry. While the annotations stay the same (the fingerprint in
// status.environment, carried over from the previous rollout), GitLab is not
// asked at all.
func (r *Reconciler) reconcileEnvironment(ctx context.Context, s *scope) (ctrl.Result, error) {
	deploy := s.observed.deploy
	if !current(s) || deploy == nil {
		return ctrl.Result{}, nil
	}
	if !environment.Requested(deploy.Annotations) {
		s.environment = &environmentDecision{absent: true}
		return ctrl.Result{}, nil
	}
	if err := r.inheritEnvironment(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	desired, err := environment.FromAnnotations(deploy.Annotations, s.gld.Namespace)
	if verr, ok := errors.AsType[*environment.ValidationError](err); ok {
		r.environmentFailed(s, verr.Reason, verr.Message)
		return ctrl.Result{}, nil
	}
	spec := &s.gld.Spec
	fingerprint := environment.Fingerprint(deploy.Annotations, s.gld.Namespace, spec.Project, spec.Environment)
	if st := s.gld.Status.Environment; st != nil && st.Desired == fingerprint {
		s.environment = &environmentDecision{}
		return ctrl.Result{}, nil
	}
	key := retryKey{name: types.NamespacedName{Namespace: s.gld.Namespace, Name: s.gld.Name}, phase: "environment"}
	// A changed annotation is tried at once; the same one after the retry.
	if wait := r.retries.wait(key, fingerprint, s.now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	gl, err := r.gitlabClient(ctx, s)
	if err == nil {
		err = r.syncEnvironment(ctx, s, gl, desired, fingerprint)
	}
	if err != nil {
		reason, message, retry := environmentError(err, s.observed.secret, r.GitLabRetry)
		r.environmentFailed(s, reason, message)
		r.retries.set(key, fingerprint, s.now.Add(retry))
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	r.retries.clear(key)
	s.environment = &environmentDecision{}
	return ctrl.Result{}, nil
}

// current reports whether this is the rollout the Deployment shows and its
// record exists in GitLab.
func current(s *scope) bool {
	return s.gld.Status.Record.ID != 0 && s.observed.current
}

// inheritEnvironment starts a rollout's status.environment from the newest
// earlier rollout of the same project and environment, so that a new
// rollout with the same annotations asks nothing of GitLab.
func (r *Reconciler) inheritEnvironment(ctx context.Context, s *scope) error {
	if s.gld.Status.Environment != nil {
		return nil
	}
	rollouts, err := r.rollouts(ctx, s)
	if err != nil {
		return err
	}
	for i := len(rollouts) - 1; i >= 0; i-- {
		prev := &rollouts[i]
		if prev.UID == s.gld.UID || prev.Status.Environment == nil || rollout.Compare(*prev, *s.gld) > 0 ||
			prev.Spec.Project != s.gld.Spec.Project || prev.Spec.Environment != s.gld.Spec.Environment {
			continue
		}
		s.gld.Status.Environment = prev.Status.Environment.DeepCopy()
		return nil
	}
	return nil
}

// syncEnvironment reads the environment, resolves the agent by name when
// GitLab does not have it already, and writes the smallest edit. Values
// someone else set are kept and listed in status.environment.conflicts.
func (r *Reconciler) syncEnvironment(ctx context.Context, s *scope, gl gitlab.Client, desired environment.Desired, fingerprint string) error {
	spec := &s.gld.Spec
	env, err := gl.GetEnvironmentByName(ctx, spec.Project, spec.Environment)
	if err != nil {
		return err
	}
	if env == nil {
		return &environmentProblem{reason: gitlabv1alpha1.ReasonEnvironmentNotFound,
			message: fmt.Sprintf("GitLab has no environment %q in project %s", spec.Environment, spec.Project)}
	}
	observed := observedEnvironment(env)
	if environment.NeedsAgentLookup(desired, observed) {
		agent, err := gl.ResolveAgent(ctx, spec.Project, desired.Agent.Name)
		if err != nil {
			return err
		}
		desired.Agent = &environment.AgentRef{ID: agent.ID}
	}
	st := s.gld.Status.Environment
	if st == nil {
		st = &gitlabv1alpha1.EnvironmentStatus{}
	}
	last := environment.Applied(st.Applied)
	plan := environment.Compute(desired, observed, last)
	if plan.Edit != nil {
		if _, err := gl.EditEnvironment(ctx, spec.Project, env.ID, editOf(plan.Edit)); err != nil {
			return err
		}
		r.normal(s.gld, "EnvironmentUpdated", "Environment", "Set %s of GitLab environment %s",
			editedFields(plan.Edit), spec.Environment)
		logf.FromContext(ctx).Info("Updated GitLab environment", "environment", spec.Environment, "fields", editedFields(plan.Edit))
	}
	conflicts := make([]string, 0, len(plan.Conflicts))
	for _, c := range plan.Conflicts {
		conflicts = append(conflicts, rollout.Truncate(c.String(), 1000))
	}
	if len(conflicts) > 0 && !slices.Equal(conflicts, st.Conflicts) {
		r.warn(s.gld, gitlabv1alpha1.ReasonEnvironmentConflict, "Environment", "%s", environment.ConflictMessage(conflicts))
	}
	s.gld.Status.Environment = &gitlabv1alpha1.EnvironmentStatus{
		Applied:   gitlabv1alpha1.AppliedEnvironment(plan.Edit.Applied(last)),
		Desired:   fingerprint,
		Conflicts: conflicts,
	}
	return nil
}

func observedEnvironment(env *gitlab.Environment) environment.Observed {
	o := environment.Observed{Name: env.Name, Tier: env.Tier, ExternalURL: env.ExternalURL,
		KubernetesNamespace: env.KubernetesNamespace, FluxResourcePath: env.FluxResourcePath}
	if a := env.ClusterAgent; a != nil {
		o.AgentID, o.AgentName = a.ID, a.Name
	}
	return o
}

func editOf(e *environment.Edit) gitlab.EnvironmentEdit {
	return gitlab.EnvironmentEdit{Tier: e.Tier, ExternalURL: e.ExternalURL, ClusterAgentID: e.AgentID,
		KubernetesNamespace: e.KubernetesNamespace, FluxResourcePath: e.FluxResourcePath}
}

// editedFields names the fields an edit sets, with their values.
func editedFields(e *environment.Edit) string {
	var parts []string
	add := func(name string, v *string) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s %q", name, *v))
		}
	}
	add("tier", e.Tier)
	add("external URL", e.ExternalURL)
	if e.AgentID != nil {
		parts = append(parts, fmt.Sprintf("agent %d", *e.AgentID))
	}
	add("Kubernetes namespace", e.KubernetesNamespace)
	add("Flux resource path", e.FluxResourcePath)
	return strings.Join(parts, ", ")
}

// environmentProblem is a failure of the environment phase that is not a
// GitLab error.
type environmentProblem struct{ reason, message string }

func (e *environmentProblem) Error() string { return e.message }

// environmentError names the reason and message of a failed sync, and how
// soon to try again.
func environmentError(err error, secret string, retry time.Duration) (reason, message string, after time.Duration) {
	if p, ok := errors.AsType[*environmentProblem](err); ok {
		return p.reason, p.message, retry
	}
	if c, ok := errors.AsType[*CredentialsError](err); ok {
		return c.Reason, c.Message, retry
	}
	glErr, ok := errors.AsType[*gitlab.Error](err)
	if !ok {
		return gitlabv1alpha1.ReasonGitLabUnavailable, err.Error(), retry
	}
	if glErr.RetryAfter > 0 {
		retry = glErr.RetryAfter
	}
	switch {
	case glErr.Op == "resolve agent" && gitlab.IsNotFound(err),
		strings.Contains(strings.ToLower(glErr.Message), "cluster agent"):
		return gitlabv1alpha1.ReasonAgentNotFound, glErr.Error() + " (check " + gitlabv1alpha1.AnnotationAgent + ")", retry
	case glErr.Class == gitlab.InvalidCredentials:
		return gitlabv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf("GitLab rejected the token in Secret %s: %s", secret, glErr.Error()), retry
	}
	return rollout.GitLabReason(glErr), glErr.Error(), retry
}

// environmentFailed decides the EnvironmentSynced condition of a failure
// and tells it in a Warning Event, once per new reason or message.
func (r *Reconciler) environmentFailed(s *scope, reason, message string) {
	s.environment = &environmentDecision{problem: problem{reason: reason, message: message}}
	prev := apimeta.FindStatusCondition(s.gld.Status.Conditions, gitlabv1alpha1.ConditionEnvironmentSynced)
	if prev != nil && prev.Reason == reason && prev.Message == message {
		return
	}
	r.warn(s.gld, reason, "Environment", "%s", message)
}

// retryKey names one phase's retry of one GitLabDeployment.
type retryKey struct {
	name  types.NamespacedName
	phase string
}

// retryTimes holds, in memory, when a phase whose GitLab request failed may
// ask again: other reconciles meanwhile (a Deployment's status ticks) do not
// repeat the request. After a restart the first reconcile asks again.
type retryTimes struct {
	mu sync.Mutex
	m  map[retryKey]retryAt
}

// retryAt is when a failed request may be sent again, and what it asked
// for (tag): a request for something else need not wait.
type retryAt struct {
	at  time.Time
	tag string
}

// wait returns how long the phase must still wait before asking for tag
// again, or 0.
func (t *retryTimes) wait(key retryKey, tag string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.m[key]
	if !ok || r.tag != tag || !now.Before(r.at) {
		return 0
	}
	return r.at.Sub(now)
}

func (t *retryTimes) set(key retryKey, tag string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[retryKey]retryAt{}
	}
	t.m[key] = retryAt{at: at, tag: tag}
}

func (t *retryTimes) clear(key retryKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// forget drops the retries of a GitLabDeployment that is gone.
func (t *retryTimes) forget(name types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if k.name == name {
			delete(t.m, k)
		}
	}
}
