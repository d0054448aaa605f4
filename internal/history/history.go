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
// oldest first, from the manager's cache through a field index.
package history

import (
	"context"
	"slices"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// workloadIndex indexes GitLabDeployments by the Deployment they record.
const workloadIndex = "spec.workloadRef.name"

// SetupIndex registers the cache index Of uses.
func SetupIndex(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &gitlabv1alpha1.GitLabDeployment{}, workloadIndex,
		func(o client.Object) []string {
			return []string{o.(*gitlabv1alpha1.GitLabDeployment).Spec.WorkloadRef.Name}
		})
}

// Of lists the rollouts of a Deployment from a cache with the index,
// oldest first.
func Of(ctx context.Context, c client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{workloadIndex: workload}); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, rollout.Compare)
	return list.Items, nil
}
