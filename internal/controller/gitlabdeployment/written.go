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
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// writtenObjects remembers each GitLabDeployment as this controller last
// wrote it, until the cache shows that version. The status is the memory of
// the exactly-once protocol: a reconcile must never act on a cached copy
// older than this controller's own last write (it would send a transition
// GitLab already has, or move a finished record on), and reading the API
// server on every reconcile to be sure costs a GET per reconcile.
//
// It also keeps, for as long as the object is watched, the resourceVersion
// of this controller's last write: a copy at that version is this
// controller's own (ours), and since leader election makes it the only
// writer of the status, that copy's record is the stored one.
type writtenObjects struct {
	mu   sync.Mutex
	m    map[types.NamespacedName]*gitlabv1alpha1.GitLabDeployment
	last map[types.NamespacedName]string
}

// remember records gld as just written.
func (w *writtenObjects) remember(gld *gitlabv1alpha1.GitLabDeployment) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.NamespacedName]*gitlabv1alpha1.GitLabDeployment{}
		w.last = map[types.NamespacedName]string{}
	}
	key := types.NamespacedName{Namespace: gld.Namespace, Name: gld.Name}
	remembered := gld.DeepCopy()
	remembered.ManagedFields = nil // as in the cache: no decision reads them
	w.m[key] = remembered
	w.last[key] = gld.ResourceVersion
}

// caughtUp drops the copy of a write once the cache shows that version or a
// later one, as current does: the last write of a rollout (its success,
// say) is often followed by no reconcile of it for a long time, and the
// copy would otherwise double the memory of every watched rollout.
func (w *writtenObjects) caughtUp(cached client.Object) {
	key := types.NamespacedName{Namespace: cached.GetNamespace(), Name: cached.GetName()}
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.m[key]; ok && !olderThan(cached.GetResourceVersion(), last.ResourceVersion) {
		delete(w.m, key)
	}
}

// forget drops what was remembered of a GitLabDeployment that is gone.
func (w *writtenObjects) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
	delete(w.last, key)
}

// current returns the copy to reconcile: the cached one once the cache
// shows this controller's last write or a later version (the entry is then
// forgotten), else the version last written. known is false when the copy
// may be older than the stored object: the first write then carries its
// resourceVersion, and conflicts if it is. ours is true when the copy is
// this controller's last write, in the cache or remembered.
func (w *writtenObjects) current(cached *gitlabv1alpha1.GitLabDeployment) (gld *gitlabv1alpha1.GitLabDeployment, known, ours bool) {
	key := types.NamespacedName{Namespace: cached.Namespace, Name: cached.Name}
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.m[key]
	switch {
	case !ok:
		rv, written := w.last[key]
		return cached, false, written && rv == cached.ResourceVersion
	case last.ResourceVersion == cached.ResourceVersion:
		delete(w.m, key)
		return cached, true, true
	case !olderThan(cached.ResourceVersion, last.ResourceVersion):
		// Someone changed the object after this controller's last write
		// (deleted it, changed its spec): the cache has the newer version.
		delete(w.m, key)
		return cached, false, false
	}
	return last.DeepCopy(), false, true
}

// holds reports whether another rollout of gld's namespace and project has
// the GitLab deployment id as its record in a write the cache may not show
// yet.
func (w *writtenObjects) holds(gld *gitlabv1alpha1.GitLabDeployment, id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, other := range w.m {
		if other.UID != gld.UID && other.Namespace == gld.Namespace && other.Spec.Project == gld.Spec.Project &&
			other.Status.Record.ID == id {
			return true
		}
	}
	return false
}

// olderThan reports whether resourceVersion a is known to be older than b.
// resourceVersions are opaque to clients, but the API server's are etcd
// revisions, which grow; any other form is never taken as older, so that
// the cached copy is used and its first write checked.
func olderThan(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}
