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

package controller

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// maxHookBody bounds the size of a GitLab webhook payload read.
const maxHookBody = 1 << 20

// GitLabHookReceiver receives GitLab's project webhooks and reconciles at
// once the held rollouts a Deployment Hook is about, instead of waiting for
// their next poll. GitLab sends no webhook for an approval itself; the
// Pipeline source gets a Deployment Hook when its blocked job is played,
// fails or is canceled.
type GitLabHookReceiver struct {
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
func (h *GitLabHookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token := []byte(req.Header.Get("X-Gitlab-Token"))
	if len(h.Token) == 0 || subtle.ConstantTimeCompare(token, h.Token) != 1 {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	if req.Header.Get("X-Gitlab-Event") != "Deployment Hook" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var hook deploymentHook
	if err := json.NewDecoder(io.LimitReader(req.Body, maxHookBody)).Decode(&hook); err != nil {
		http.Error(w, "invalid payload", http.StatusBadRequest)
		return
	}
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := h.Reader.List(req.Context(), &list); err != nil {
		http.Error(w, "cannot list rollouts", http.StatusServiceUnavailable)
		return
	}
	n := 0
	for i := range list.Items {
		if !hookConcerns(&hook, &list.Items[i]) {
			continue
		}
		select {
		case h.Triggers <- event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]{Object: &list.Items[i]}:
			n++
		case <-req.Context().Done():
		}
	}
	logf.FromContext(req.Context()).V(1).Info("Received a GitLab Deployment Hook", "deploymentID", hook.DeploymentID,
		"status", hook.Status, "environment", hook.Environment, "triggered", n)
	w.WriteHeader(http.StatusOK)
}

// hookConcerns reports whether a Deployment Hook is about a rollout still
// waiting for approval: the deployment carrying its approvals, or a
// deployment of its commit in its approval environment and project.
func hookConcerns(hook *deploymentHook, gld *gitlabv1alpha1.GitLabDeployment) bool {
	if gld.Spec.Approval == nil {
		return false
	}
	a := gld.Status.Approval
	if a != nil && a.State != gitlabv1alpha1.ApprovalAwaiting {
		return false
	}
	if a != nil && a.DeploymentID != 0 && a.DeploymentID == hook.DeploymentID {
		return true
	}
	project := gld.Spec.Project
	sameProject := project == strconv.FormatInt(hook.Project.ID, 10) || strings.EqualFold(project, hook.Project.PathWithNamespace)
	return sameProject && hook.ShortSHA != "" && strings.HasPrefix(gld.Spec.SHA, hook.ShortSHA) &&
		approvalEnvironment(gld) == hook.Environment
}
