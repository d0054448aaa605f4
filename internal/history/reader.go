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

package history

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Synced is what a Reader needs of the manager's GitLabDeployment
// informer: the resourceVersion it has seen (client-go's
// SharedIndexInformer has it).
type Synced interface {
	LastSyncResourceVersion() string
}

// Reader lists from the API server's watch cache, no older than what the
// manager's own cache has seen, instead of with a consistent read; gets are
// consistent reads, unchanged.
//
// A consistent list (no resourceVersion) is served from the watch cache
// only once it has caught up with etcd's latest revision, which it learns
// from a GitLabDeployment event or from etcd's progress notification. In
// a burst (a thousand rollouts at once) etcd's progress notifications
// stall, the watch cache cannot prove it is fresh, and the API server
// reads the whole namespace's rollouts from etcd for each list, to select
// one Deployment's: those lists held every worker for a minute, until the
// API server's handler timeout. A list no older than the manager's cache is
// served from the watch cache at once, and is as fresh as every other read
// the controllers make; the decisions that read the whole history already
// allow for a rollout created a moment ago that a read does not show (see
// workload.createRollout).
type Reader struct {
	// Reader reads from the API server: the manager's API reader.
	client.Reader
	// Synced is the GitLabDeployment informer; nil, or an empty
	// resourceVersion, means consistent lists.
	Synced Synced
}

// List lists no older than what Synced has seen. If the API server
// answering has not caught up with that (another replica of a
// highly-available control plane, say), it lists consistently instead.
func (r *Reader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	rv := ""
	if r.Synced != nil {
		rv = r.Synced.LastSyncResourceVersion()
	}
	if rv == "" {
		return r.Reader.List(ctx, list, opts...)
	}
	err := r.Reader.List(ctx, list, append(slices.Clip(opts), notOlderThan(rv))...)
	if apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		return r.Reader.List(ctx, list, opts...)
	}
	return err
}

// notOlderThan asks for a list at least as new as a resourceVersion.
type notOlderThan string

func (rv notOlderThan) ApplyToList(o *client.ListOptions) {
	if o.Raw == nil {
		o.Raw = &metav1.ListOptions{}
	}
	o.Raw.ResourceVersion = string(rv)
	o.Raw.ResourceVersionMatch = metav1.ResourceVersionMatchNotOlderThan
}
