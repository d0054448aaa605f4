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

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// The work queue's priorities. In a burst, what GitLab must be told goes
// first, in the order it comes: a rollout that has just appeared gets its
// record (so that GitLab shows it running while it runs), and a rollout its
// Deployment shows finished gets its final status (so that a rollout that
// completes while a thousand others start is not recorded after all of
// them). Then, in the order they come, the rollouts in progress are
// observed and the superseded ones settle (settling lets the cache drop
// them: held back behind every observation of a burst, a thousand
// superseded rollouts would stay in memory for minutes); the cache's
// initial list at start comes last.
const (
	// priorityNew is a rollout's first reconcile, when it is created, and a
	// change of its Deployment that its GitLab record must follow.
	priorityNew = 10
	// priorityObserve is the default: a change of a rollout or of its
	// Deployment, and a superseded rollout's last reconcile, to settle.
	priorityObserve = 0
	// priorityInitial is the cache's initial list at start.
	priorityInitial = handler.LowPriority
)

// priorityOf is the priority of reconciling gld for a change of its
// Deployment deploy (nil when it is gone): priorityNew when what deploy
// shows asks for a GitLab write (a rollout complete, failed at its
// deadline, superseded or gone while its record is unfinished), else
// priorityObserve. The cached gld may lag behind a write just made; it then
// goes first once more, to find nothing to do.
func priorityOf(gld *gitlabv1alpha1.GitLabDeployment, deploy *appsv1.Deployment) int {
	state := rollout.Observe(deploy, rollout.Hash(gld))
	if rollout.DesiredRecord(state, gld.Status.Record.Status).Status != "" {
		return priorityNew
	}
	return priorityObserve
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// enqueue adds req at priority, to a priority queue; to another queue in
// the order it comes.
func enqueue(q queue, req reconcile.Request, priority int) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: &priority}, req)
		return
	}
	q.Add(req)
}

// newRollouts raises a rollout to priorityNew when it is created, but not
// for the cache's initial list at start: those have no event behind them.
func newRollouts() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) {
			if e.IsInInitialList {
				return
			}
			enqueue(q, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}, priorityNew)
		},
	}
}

// prioritized maps an object to the rollouts to reconcile and the priority
// of each (as handler.EnqueueRequestsFromMapFunc does, with a priority per
// request); the cache's initial list at start is reconciled at
// priorityInitial.
func prioritized(toRequests func(context.Context, client.Object) map[reconcile.Request]int) handler.EventHandler {
	add := func(ctx context.Context, q queue, initial bool, objs ...client.Object) {
		for _, obj := range objs {
			for req, priority := range toRequests(ctx, obj) {
				if initial {
					priority = min(priority, priorityInitial)
				}
				enqueue(q, req, priority)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { add(ctx, q, e.IsInInitialList, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			add(ctx, q, false, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { add(ctx, q, false, e.Object) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { add(ctx, q, false, e.Object) },
	}
}

// atPriority gives every request of a mapping the same priority.
func atPriority(priority int, toRequests func(context.Context, client.Object) []reconcile.Request) func(context.Context, client.Object) map[reconcile.Request]int {
	return func(ctx context.Context, obj client.Object) map[reconcile.Request]int {
		out := map[reconcile.Request]int{}
		for _, req := range toRequests(ctx, obj) {
			out[req] = priority
		}
		return out
	}
}
