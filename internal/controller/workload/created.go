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

// createdRollouts remembers, per Deployment, the rollout this controller
// created last, until the cache shows it. Until then a history listed from
// the watch cache (history.Reader) may not have it either, and would have
// the next reconcile create the same rollout again under another name: the
// history is then listed with a consistent read.
type createdRollouts struct {
	mu   sync.Mutex
	uids map[types.NamespacedName]types.UID
}

// remember notes that key's newest rollout is uid.
func (c *createdRollouts) remember(key types.NamespacedName, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uids == nil {
		c.uids = map[types.NamespacedName]types.UID{}
	}
	c.uids[key] = uid
}

// shownBy reports whether the cached rollouts of key show the rollout
// created last, forgetting it once they do.
func (c *createdRollouts) shownBy(key types.NamespacedName, cached []gitlabv1alpha1.GitLabDeployment) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid, ok := c.uids[key]
	if !ok {
		return true
	}
	if !slices.ContainsFunc(cached, func(gld gitlabv1alpha1.GitLabDeployment) bool { return gld.UID == uid }) {
		return false
	}
	delete(c.uids, key)
	return true
}

// forget drops what is remembered of key.
func (c *createdRollouts) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.uids, key)
}
