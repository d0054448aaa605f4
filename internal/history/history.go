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

// Package history lists the rollouts (GitLabDeployments) of a Deployment,
// oldest first: the ones rollgate still watches from the manager's cache
// through a field index (Of), the whole history from the API server (Live).
package history

import (
	"context"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// workloadIndex indexes GitLabDeployments by the Deployment they record.
const workloadIndex = "spec.workloadRef.name"

// RecordIndex indexes GitLabDeployments by their record's GitLab ID.
const RecordIndex = "status.record.id"

// SetupIndex registers the cache indexes Of and WithRecord use.
func SetupIndex(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &gitlabv1alpha1.GitLabDeployment{}, workloadIndex, WorkloadOf); err != nil {
		return err
	}
	return mgr.GetFieldIndexer().IndexField(ctx, &gitlabv1alpha1.GitLabDeployment{}, RecordIndex, RecordOf)
}

// WorkloadOf is the workload index's value of a GitLabDeployment.
func WorkloadOf(o client.Object) []string {
	return []string{o.(*gitlabv1alpha1.GitLabDeployment).Spec.WorkloadRef.Name}
}

// RecordOf is the record index's value of a GitLabDeployment: its record's
// ID, none without a record.
func RecordOf(o client.Object) []string {
	if id := o.(*gitlabv1alpha1.GitLabDeployment).Status.Record.ID; id != 0 {
		return []string{strconv.FormatInt(id, 10)}
	}
	return nil
}

// WithRecord lists the GitLabDeployments of a namespace whose record is the
// GitLab deployment id: the watched ones from a cache with the index
// (cached), the settled ones, labeled with their record's ID, from the API
// server (live).
func WithRecord(ctx context.Context, cached, live client.Reader, namespace string, id int64) ([]gitlabv1alpha1.GitLabDeployment, error) {
	value := strconv.FormatInt(id, 10)
	var watched, settled gitlabv1alpha1.GitLabDeploymentList
	if err := cached.List(ctx, &watched, client.InNamespace(namespace), client.MatchingFields{RecordIndex: value}); err != nil {
		return nil, err
	}
	if err := live.List(ctx, &settled, client.InNamespace(namespace),
		client.MatchingLabels{gitlabv1alpha1.LabelRecordID: value}); err != nil {
		return nil, err
	}
	return append(watched.Items, settled.Items...), nil
}

// Of lists the rollouts of a Deployment from a cache with the index,
// oldest first. The manager's cache leaves the settled history out
// (rollout.Settled): what it returns is the newest rollout and those that
// can still change.
func Of(ctx context.Context, c client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{workloadIndex: workload}); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, rollout.Compare)
	return list.Items, nil
}

// View is Of for event handlers, which only read: the cache's own objects,
// not copies of them, that the caller must not change.
func View(ctx context.Context, c client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{workloadIndex: workload},
		client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, rollout.Compare)
	return list.Items, nil
}

// Live lists every rollout of a Deployment, the settled history included,
// from the API server (one list, selected by the workload label), oldest
// first. It is for the rare decision that needs the whole history: a new
// rollout's name and pruning, a template approved or declined before, the
// template to restore after a rejection.
func Live(ctx context.Context, c client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingLabels{gitlabv1alpha1.LabelWorkload: rollout.LabelValue(workload)}); err != nil {
		return nil, err
	}
	items := slices.DeleteFunc(list.Items, func(gld gitlabv1alpha1.GitLabDeployment) bool {
		return gld.Spec.WorkloadRef.Name != workload
	})
	slices.SortFunc(items, rollout.Compare)
	return items, nil
}

// Approved reports whether a rollout of the Deployment other than except had
// the template with hash approved (rollout.TemplateApproved): the watched
// rollouts from the cache first, then the settled history from the API
// server when they do not say so.
func Approved(ctx context.Context, cached, live client.Reader, namespace, workload, hash string, except types.UID) (bool, error) {
	rollouts, err := Of(ctx, cached, namespace, workload)
	if err == nil && !approvedBy(rollouts, hash, except) {
		rollouts, err = Live(ctx, live, namespace, workload)
	}
	if err != nil {
		return false, err
	}
	return approvedBy(rollouts, hash, except), nil
}

func approvedBy(rollouts []gitlabv1alpha1.GitLabDeployment, hash string, except types.UID) bool {
	others := slices.DeleteFunc(rollouts, func(gld gitlabv1alpha1.GitLabDeployment) bool { return except != "" && gld.UID == except })
	return rollout.TemplateApproved(others, hash)
}
