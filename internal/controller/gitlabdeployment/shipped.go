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
	"math"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/environment"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/rollout"
)

// shippedMergeRequests is how many merge requests status.shipped lists.
const shippedMergeRequests = 5

// shippedWindow bounds how long after its success a record's merge
// requests are still read: rollouts that succeeded long before rollgate
// first saw them (an upgrade, a restart over old history) are not read.
const shippedWindow = time.Hour

// reconcileShipped reads, once, the merge requests GitLab linked to the
// record when it succeeded, into status.shipped and a Shipped Event. It
// never runs while the record is running, never twice (status.shipped set
// is done, even with none), and a failure is retried after GitLabRetry
// without holding anything up.
func (r *Reconciler) reconcileShipped(ctx context.Context, s *scope) (ctrl.Result, error) {
	rec := &s.gld.Status.Record
	if rec.ID == 0 || rec.Status != gitlab.StatusSuccess || s.gld.Status.Shipped != nil {
		return ctrl.Result{}, nil
	}
	succeeded := s.now
	if rec.UpdatedAt != nil && rec.UpdatedAt.Time.Before(s.now) {
		succeeded = rec.UpdatedAt.Time
	}
	if s.now.Sub(succeeded) > shippedWindow {
		return ctrl.Result{}, nil
	}
	// GitLab links the merge requests in a background job after success.
	// The read waits behind the records of rollouts in progress: a burst
	// of rollouts that finished together must not delay the next burst's.
	if wait := succeeded.Add(r.ShippedDelay).Sub(s.now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait, Priority: ptr.To(handler.LowPriority)}, nil
	}
	key := retryKey{name: types.NamespacedName{Namespace: s.gld.Namespace, Name: s.gld.Name}, phase: "shipped"}
	if wait := r.retries.wait(key, "", s.now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait, Priority: ptr.To(handler.LowPriority)}, nil
	}
	gl, err := r.gitlabClient(ctx, s)
	var list *gitlab.MergeRequestList
	if err == nil {
		list, err = gl.ListDeploymentMergeRequests(ctx, s.gld.Spec.Project, rec.ID, shippedMergeRequests)
	}
	if err != nil {
		retry := r.GitLabRetry
		if after := gitlab.RetryAfter(err); after > 0 {
			retry = after
		}
		r.retries.set(key, "", s.now.Add(retry))
		logf.FromContext(ctx).Info("Could not read the merge requests of the GitLab record; will retry",
			"id", rec.ID, "retryAfter", retry, "error", err.Error())
		return ctrl.Result{RequeueAfter: retry, Priority: ptr.To(handler.LowPriority)}, nil
	}
	r.retries.clear(key)
	s.gld.Status.Shipped = shippedOf(list)
	named := make([]environment.ShippedMergeRequest, 0, len(list.Items))
	for _, mr := range list.Items {
		named = append(named, environment.ShippedMergeRequest{IID: mr.IID, Title: mr.Title})
	}
	if msg := environment.ShippedMessage(named, list.Total); msg != "" {
		r.normal(s.gld, "Shipped", "Ship", "%s%s", msg, r.fromCluster())
	}
	return ctrl.Result{}, nil
}

// shippedOf is status.shipped of GitLab's answer.
func shippedOf(list *gitlab.MergeRequestList) *gitlabv1alpha1.ShippedStatus {
	out := &gitlabv1alpha1.ShippedStatus{Count: int32(min(max(list.Total, len(list.Items)), math.MaxInt32))}
	for _, mr := range list.Items {
		if len(out.MergeRequests) == shippedMergeRequests {
			break
		}
		out.MergeRequests = append(out.MergeRequests, gitlabv1alpha1.ShippedMergeRequest{
			IID: mr.IID, Title: shortTitle(mr.Title), WebURL: rollout.Truncate(mr.WebURL, 2000)})
	}
	return out
}

// shortTitle cuts a title to 80 characters, as the Event does.
func shortTitle(title string) string {
	r := []rune(title)
	if len(r) <= 80 {
		return title
	}
	return string(r[:79]) + "…"
}
