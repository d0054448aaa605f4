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

// Package gitlabhook receives GitLab's project webhooks and wakes the held
// rollouts a Deployment Hook is about.
package gitlabhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

const (
	// maxHookBody bounds the size of a GitLab webhook payload read.
	maxHookBody = 1 << 20
	// deploymentHookEvent is the X-Gitlab-Event of a deployment's status
	// change.
	deploymentHookEvent = "Deployment Hook"
	// minShortSHA is the shortest commit prefix a hook is matched by.
	minShortSHA = 7
)

// Receiver receives GitLab's project webhooks and reconciles at
// once the held rollouts a Deployment Hook is about, instead of waiting for
// their next poll. GitLab sends no webhook for an approval itself; the
// Pipeline source gets a Deployment Hook when its blocked job is played,
// fails or is canceled.
type Receiver struct {
	// Reader lists GitLabDeployments (the manager's cache).
	Reader client.Reader
	// Token is the secret GitLab sends as X-Gitlab-Token; required.
	Token []byte
	// Triggers receives the GitLabDeployments to reconcile.
	Triggers chan<- event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]
}

// deploymentHook is the part of GitLab's Deployment Hook payload used here.
type deploymentHook struct {
	ObjectKind   string `json:"object_kind"`
	Status       string `json:"status"`
	DeploymentID int64  `json:"deployment_id"`
	Environment  string `json:"environment"`
	ShortSHA     string `json:"short_sha"`
	Project      struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// ServeHTTP checks the token and triggers the rollouts the event is about.
// Answers carry no detail: a caller without the token learns nothing.
func (h *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(req.Header.Get("X-Gitlab-Token")) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if req.Header.Get("X-Gitlab-Event") != deploymentHookEvent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var hook deploymentHook
	err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxHookBody)).Decode(&hook)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "invalid payload", http.StatusBadRequest)
		return
	case hook.ObjectKind != "deployment":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	n, err := h.trigger(req.Context(), &hook)
	if err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	logf.FromContext(req.Context()).V(1).Info("Received a GitLab Deployment Hook", "deploymentID", hook.DeploymentID,
		"status", hook.Status, "environment", hook.Environment, "triggered", n)
	w.WriteHeader(http.StatusOK)
}

// authorized compares the token in constant time: digests of equal length
// are compared, so that neither the content nor the length of the secret
// shows in the time taken.
func (h *Receiver) authorized(token string) bool {
	if len(h.Token) == 0 || token == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256(h.Token)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// trigger sends the rollouts the hook concerns to the GitLabDeployment
// controller and says how many.
func (h *Receiver) trigger(ctx context.Context, hook *deploymentHook) (int, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := h.Reader.List(ctx, &list); err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		if !hookConcerns(hook, &list.Items[i]) {
			continue
		}
		select {
		case h.Triggers <- event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]{Object: &list.Items[i]}:
			n++
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

// hookConcerns reports whether a Deployment Hook is about a rollout still
// waiting for approval in the hook's project: the deployment carrying its
// approvals, or a deployment of its commit in its approval environment.
func hookConcerns(hook *deploymentHook, gld *gitlabv1alpha1.GitLabDeployment) bool {
	if gld.Spec.Approval == nil || !sameProject(gld.Spec.Project, hook) {
		return false
	}
	a := gld.Status.Approval
	if a != nil && a.State != gitlabv1alpha1.ApprovalAwaiting {
		return false
	}
	if a != nil && a.DeploymentID != 0 && a.DeploymentID == hook.DeploymentID {
		return true
	}
	return len(hook.ShortSHA) >= minShortSHA && strings.HasPrefix(gld.Spec.SHA, hook.ShortSHA) &&
		hook.Environment != "" && rollout.ApprovalEnvironment(gld) == hook.Environment
}

// sameProject reports whether a rollout's project, by ID or by path, is the
// hook's.
func sameProject(project string, hook *deploymentHook) bool {
	switch {
	case project == "":
		return false
	case hook.Project.ID != 0 && project == strconv.FormatInt(hook.Project.ID, 10):
		return true
	}
	return hook.Project.PathWithNamespace != "" && strings.EqualFold(project, hook.Project.PathWithNamespace)
}
