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

package operator

import (
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/rollgate/rollgate/internal/rollout"
)

// newInformer is the cache's informer constructor (cache.Options.NewInformer).
// The Deployment informer's store holds what rollout.TrimForCache leaves:
// trimmed Deployments for those that opt in and metadata stubs for the
// rest. Its wrapper hands every stored object out as a Deployment, to the
// cache's readers and to the controllers' event handlers alike, so that
// the rest of rollgate never sees a stub.
//
// The Deployment informer keeps no namespace index either: rollgate reads
// Deployments by name, and an index of every Deployment of the cluster
// costs a tenth of the stubs; a read by namespace scans the store instead.
func newInformer(lw toolscache.ListerWatcher, example runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
	if _, ok := example.(*appsv1.Deployment); !ok {
		return toolscache.NewSharedIndexInformer(lw, example, resync, indexers)
	}
	indexers = maps.Clone(indexers)
	delete(indexers, toolscache.NamespaceIndex)
	return deploymentInformer{toolscache.NewSharedIndexInformer(lw, example, resync, indexers)}
}

// deploymentInformer is a Deployment informer whose store may hold stubs.
type deploymentInformer struct {
	toolscache.SharedIndexInformer
}

func (i deploymentInformer) GetStore() toolscache.Store { return i.GetIndexer() }

// SetTransform runs transform (rollout.TrimForCache) on an event's
// Deployment once the template hash the store holds for the same
// generation is reused (rollout.ReuseHash).
func (i deploymentInformer) SetTransform(transform toolscache.TransformFunc) error {
	if transform == nil {
		return i.SharedIndexInformer.SetTransform(nil)
	}
	store := i.GetIndexer()
	return i.SharedIndexInformer.SetTransform(func(obj any) (any, error) {
		if deploy, ok := obj.(*appsv1.Deployment); ok {
			if previous, exists, err := store.GetByKey(toolscache.MetaObjectToName(deploy).String()); err == nil && exists {
				rollout.ReuseHash(deploy, previous)
			}
		}
		return transform(obj)
	})
}

func (i deploymentInformer) GetIndexer() toolscache.Indexer {
	return deploymentIndexer{i.SharedIndexInformer.GetIndexer()}
}

func (i deploymentInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandler(deploymentHandler{h})
}

func (i deploymentInformer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, resync time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandlerWithResyncPeriod(deploymentHandler{h}, resync)
}

func (i deploymentInformer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, opts toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandlerWithOptions(deploymentHandler{h}, opts)
}

// deploymentHandler passes events on with stubs made Deployments.
type deploymentHandler struct {
	toolscache.ResourceEventHandler
}

func (h deploymentHandler) OnAdd(obj any, isInInitialList bool) {
	h.ResourceEventHandler.OnAdd(rollout.FromCache(obj), isInInitialList)
}

func (h deploymentHandler) OnUpdate(oldObj, newObj any) {
	h.ResourceEventHandler.OnUpdate(rollout.FromCache(oldObj), rollout.FromCache(newObj))
}

func (h deploymentHandler) OnDelete(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		tombstone.Obj = rollout.FromCache(tombstone.Obj)
		obj = tombstone
	}
	h.ResourceEventHandler.OnDelete(rollout.FromCache(obj))
}

// deploymentIndexer reads the store with stubs made Deployments.
type deploymentIndexer struct {
	toolscache.Indexer
}

func (x deploymentIndexer) List() []any { return fromCache(x.Indexer.List()) }

func (x deploymentIndexer) Get(obj any) (any, bool, error) {
	item, exists, err := x.Indexer.Get(obj)
	return rollout.FromCache(item), exists, err
}

func (x deploymentIndexer) GetByKey(key string) (any, bool, error) {
	item, exists, err := x.Indexer.GetByKey(key)
	return rollout.FromCache(item), exists, err
}

func (x deploymentIndexer) Index(indexName string, obj any) ([]any, error) {
	if indexName == toolscache.NamespaceIndex {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		return x.inNamespace(m.GetNamespace()), nil
	}
	items, err := x.Indexer.Index(indexName, obj)
	return fromCache(items), err
}

func (x deploymentIndexer) ByIndex(indexName, indexedValue string) ([]any, error) {
	if indexName == toolscache.NamespaceIndex {
		return x.inNamespace(indexedValue), nil
	}
	items, err := x.Indexer.ByIndex(indexName, indexedValue)
	return fromCache(items), err
}

// inNamespace scans the store for the namespace's Deployments.
func (x deploymentIndexer) inNamespace(namespace string) []any {
	var items []any
	for _, key := range x.ListKeys() {
		if ns, _, err := toolscache.SplitMetaNamespaceKey(key); err != nil || ns != namespace {
			continue
		}
		if item, exists, err := x.Indexer.GetByKey(key); err == nil && exists {
			items = append(items, rollout.FromCache(item))
		}
	}
	return items
}

// fromCache makes the stubs of items Deployments, in place: the store's
// List and ByIndex return a new slice on every call.
func fromCache(items []any) []any {
	for i := range items {
		items[i] = rollout.FromCache(items[i])
	}
	return items
}
