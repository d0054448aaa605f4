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
	"cmp"
	"context"
	"slices"
	"strconv"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// workloadIndex indexes GitLabDeployments by the Deployment they record.
const workloadIndex = "spec.workloadRef.name"

// AnnotationRevision orders the rollouts of one Deployment: the workload
// controller numbers the GitLabDeployments it creates 1, 2, 3, ...
const AnnotationRevision = "gitlab.rollgate.dev/revision"

// LabelWorkload carries the name of the recorded Deployment, for selectors.
const LabelWorkload = "gitlab.rollgate.dev/deployment"

// SetupIndexes registers the cache indexes the controllers share.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &gitlabv1alpha1.GitLabDeployment{}, workloadIndex,
		func(o client.Object) []string {
			return []string{o.(*gitlabv1alpha1.GitLabDeployment).Spec.WorkloadRef.Name}
		})
}

// rolloutsOf lists the GitLabDeployments of a Deployment, oldest first.
func rolloutsOf(ctx context.Context, c client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{workloadIndex: workload}); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, compareRollouts)
	return list.Items, nil
}

// liveRolloutsOf lists the GitLabDeployments of a Deployment from reader
// without the cache's field index (an API reader has none), oldest first.
func liveRolloutsOf(ctx context.Context, reader client.Reader, namespace, workload string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(list.Items, func(gld gitlabv1alpha1.GitLabDeployment) bool {
		return gld.Spec.WorkloadRef.Name != workload
	})
	slices.SortFunc(out, compareRollouts)
	return out, nil
}

// compareRollouts orders rollouts by revision when both were numbered by
// the workload controller, else by creation, then by name.
func compareRollouts(a, b gitlabv1alpha1.GitLabDeployment) int {
	if ra, rb := revisionOf(&a), revisionOf(&b); ra > 0 && rb > 0 && ra != rb {
		return cmp.Compare(ra, rb)
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

func revisionOf(gld *gitlabv1alpha1.GitLabDeployment) int64 {
	n, _ := strconv.ParseInt(gld.Annotations[AnnotationRevision], 10, 64)
	return n
}
