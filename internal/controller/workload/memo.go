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

package workload

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// memos is what the controller remembers of each Deployment between two
// reconciles, in memory: lost on a restart, which costs at most one
// consistent list and leaves the history one rollout longer until the
// Deployment's next rollout prunes it.
type memos struct {
	mu    sync.Mutex
	byKey map[types.NamespacedName]*memo
}

type memo struct {
	// created is the rollout this controller created last, until the cache
	// shows it. Until then a history listed from the watch cache
	// (history.Reader) may not have it either, and would have the next
	// reconcile create the same rollout again under another name: the
	// history is then listed with a consistent read.
	created types.UID
	// prune are the rollouts beyond the history limit, deleted by a later
	// reconcile of low priority, once the new rollouts of a burst are made.
	prune []pruned
}

// pruned is a rollout to delete.
type pruned struct {
	name string
	uid  types.UID
}

func (m *memos) update(key types.NamespacedName, fn func(*memo)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKey == nil {
		m.byKey = map[types.NamespacedName]*memo{}
	}
	e := m.byKey[key]
	if e == nil {
		e = &memo{}
	}
	fn(e)
	if e.created == "" && len(e.prune) == 0 {
		delete(m.byKey, key)
		return
	}
	m.byKey[key] = e
}

// created notes that key's newest rollout is uid.
func (m *memos) created(key types.NamespacedName, uid types.UID) {
	m.update(key, func(e *memo) { e.created = uid })
}

// deferPrune notes rollouts of key to delete.
func (m *memos) deferPrune(key types.NamespacedName, rollouts []gitlabv1alpha1.GitLabDeployment) {
	m.update(key, func(e *memo) {
		for i := range rollouts {
			p := pruned{name: rollouts[i].Name, uid: rollouts[i].UID}
			if !slices.Contains(e.prune, p) {
				e.prune = append(e.prune, p)
			}
		}
	})
}

// shownBy reports whether the cached rollouts of key show the rollout
// created last, forgetting it once they do.
func (m *memos) shownBy(key types.NamespacedName, cached []gitlabv1alpha1.GitLabDeployment) bool {
	shown := true
	m.update(key, func(e *memo) {
		if e.created == "" {
			return
		}
		if !slices.ContainsFunc(cached, func(gld gitlabv1alpha1.GitLabDeployment) bool { return gld.UID == e.created }) {
			shown = false
			return
		}
		e.created = ""
	})
	return shown
}

// takePrune returns the rollouts of key to prune, and forgets them.
func (m *memos) takePrune(key types.NamespacedName) []pruned {
	var out []pruned
	m.update(key, func(e *memo) { out, e.prune = e.prune, nil })
	return out
}

// returnPrune gives back rollouts that could not be pruned yet.
func (m *memos) returnPrune(key types.NamespacedName, rest []pruned) {
	m.update(key, func(e *memo) { e.prune = append(rest, e.prune...) })
}

// forget drops what is remembered of key.
func (m *memos) forget(key types.NamespacedName) {
	m.update(key, func(e *memo) { *e = memo{} })
}
