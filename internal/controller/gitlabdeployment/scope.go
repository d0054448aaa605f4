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
	"fmt"
	"net/url"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// scope is one reconcile of a GitLabDeployment: what it observed (each
// input read once) apart from what it decided.
type scope struct {
	gld  *gitlabv1alpha1.GitLabDeployment
	base *gitlabv1alpha1.GitLabDeployment
	now  time.Time

	observed observed
	// target is the state the record follows: what the Deployment shows
	// (observed.state), unless the gate decided otherwise (released,
	// rejected, held late).
	target rollout.State
	// synced: the record says what the rollout shows.
	synced bool
	// deleted: the finalizer was removed; there is no status to write.
	deleted bool
	// fresh: a write of this reconcile succeeded, so gld is the stored
	// version and later patches need no resourceVersion precondition.
	fresh bool
	// ours: gld is this controller's own last write, so its record is the
	// stored one; a PUT needs no intent saved first (syncRecord).
	ours bool
	// problem: why the record could not be synced, and whether a change by
	// a human is needed (stalled).
	problem problem
	// approved is the Approved condition this reconcile decided; nil
	// leaves the condition as it was.
	approved *metav1.Condition
	// environment is what the environment phase decided; nil leaves the
	// EnvironmentSynced condition as it was.
	environment *environmentDecision
	// settle: the rollout is superseded; once its status is written it
	// leaves the watch if it has nothing left to do (settle).
	settle bool
}

// observed is what one reconcile read; each is read at most once.
type observed struct {
	// state is what the Deployment shows about this rollout.
	state rollout.State
	// current: this is the rollout the Deployment shows, not one it
	// superseded or one whose Deployment is gone (state may then hold
	// how the rollout ended).
	current bool
	// deploy is the Deployment; nil when it does not exist.
	deploy     *appsv1.Deployment
	deployRead bool
	// rollouts are the Deployment's rollouts, oldest first.
	rollouts     []gitlabv1alpha1.GitLabDeployment
	rolloutsRead bool
	// history is the whole history from the API server, settled rollouts
	// included, oldest first; read only when a decision needs it.
	history     []gitlabv1alpha1.GitLabDeployment
	historyRead bool
	// gl is the GitLab client of the credentials, glErr why there is none.
	gl      gitlab.Client
	glErr   error
	glRead  bool
	secret  string
	baseURL string
}

type problem struct {
	reason, message string
	stalled         bool
}

func newScope(gld *gitlabv1alpha1.GitLabDeployment, now time.Time) *scope {
	return &scope{gld: gld, base: gld.DeepCopy(), now: now}
}

// statusPatch is a merge patch from the base, with a resourceVersion
// precondition until a write of this reconcile proved the copy current.
func (s *scope) statusPatch() client.Patch {
	if s.fresh {
		return client.MergeFrom(s.base)
	}
	return client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})
}

func (s *scope) stallWith(reason, message string) {
	s.problem = problem{reason: reason, message: message, stalled: true}
}

func (s *scope) waitWith(reason, message string) {
	s.problem = problem{reason: reason, message: message}
}

// decideApproval sets the Approved condition the summary writes.
func (s *scope) decideApproval(status metav1.ConditionStatus, reason, message string) {
	s.approved = &metav1.Condition{Type: gitlabv1alpha1.ConditionApproved, Status: status, Reason: reason, Message: message}
}

// webURL is the GitLab page of the record's environment.
func (s *scope) webURL(environmentID int64) string {
	if s.observed.baseURL == "" || environmentID == 0 {
		return ""
	}
	base := strings.TrimSuffix(s.observed.baseURL, "/")
	project := s.gld.Spec.Project
	if rollout.IsProjectID(project) {
		return fmt.Sprintf("%s/projects/%s", base, project)
	}
	return fmt.Sprintf("%s/%s/-/environments/%d", base, (&url.URL{Path: project}).EscapedPath(), environmentID)
}

// deployment reads the rollout's Deployment once per reconcile.
func (r *Reconciler) deployment(ctx context.Context, s *scope) (*appsv1.Deployment, error) {
	if s.observed.deployRead {
		return s.observed.deploy, nil
	}
	deploy := &appsv1.Deployment{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.gld.Namespace, Name: s.gld.Spec.WorkloadRef.Name}, deploy)
	switch {
	case apierrors.IsNotFound(err):
		deploy = nil
	case err != nil:
		return nil, err
	}
	s.observed.deploy, s.observed.deployRead = deploy, true
	return deploy, nil
}

// rollouts lists the Deployment's watched rollouts (the newest, and those
// that can still change) from the cache, once per reconcile.
func (r *Reconciler) rollouts(ctx context.Context, s *scope) ([]gitlabv1alpha1.GitLabDeployment, error) {
	if s.observed.rolloutsRead {
		return s.observed.rollouts, nil
	}
	list, err := history.Of(ctx, r.Client, s.gld.Namespace, s.gld.Spec.WorkloadRef.Name)
	if err != nil {
		return nil, err
	}
	s.observed.rollouts, s.observed.rolloutsRead = list, true
	return list, nil
}

// gitlabClient resolves the credentials and builds the GitLab client once
// per reconcile.
func (r *Reconciler) gitlabClient(ctx context.Context, s *scope) (gitlab.Client, error) {
	o := &s.observed
	if o.glRead {
		return o.gl, o.glErr
	}
	o.glRead = true
	creds, secret, err := r.Credentials.Resolve(ctx, s.gld)
	if err != nil {
		o.glErr = err
		return nil, err
	}
	o.secret, o.baseURL = secret.String(), creds.URL
	o.gl, err = r.GitLab.ClientFor(creds)
	if err != nil {
		o.glErr = &CredentialsError{Reason: gitlabv1alpha1.ReasonCredentialsInvalid,
			Message: fmt.Sprintf("the credentials Secret %s is not usable: %v", secret, err)}
	}
	return o.gl, o.glErr
}
