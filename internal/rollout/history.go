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

package rollout

import (
	"cmp"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Hash is the pod template hash of a rollout.
func Hash(gld *gitlabv1alpha1.GitLabDeployment) string {
	if gld.Spec.PodTemplateHash != "" {
		return gld.Spec.PodTemplateHash
	}
	return gld.Status.PodTemplateHash
}

// Name is the name of a rollout's GitLabDeployment:
// <deployment>-<pod-template-hash>[-<n>], within 253 bytes; seen counts the
// earlier rollouts of the same template (kubectl rollout undo).
func Name(workload, hash string, seen int) string {
	suffix := "-" + hash
	if seen > 0 {
		suffix += fmt.Sprintf("-%d", seen)
	}
	if len(workload)+len(suffix) > 253 {
		workload = workload[:253-len(suffix)]
	}
	return workload + suffix
}

// LabelValue fits a Deployment name into a label value (63 bytes).
func LabelValue(name string) string {
	if len(name) > 63 {
		return name[:63]
	}
	return name
}

// Compare orders rollouts by revision when both were numbered by the
// workload controller for the same Deployment, else by creation, then by
// name. A Deployment deleted and created again under the same name starts
// its revisions (its generation) from 1 again: the rollouts of the new
// one are newer than those of the old one that still wait for their last
// record, whatever their numbers.
func Compare(a, b gitlabv1alpha1.GitLabDeployment) int {
	if ra, rb := Revision(&a), Revision(&b); ra > 0 && rb > 0 && ra != rb && workloadUID(&a) == workloadUID(&b) {
		return cmp.Compare(ra, rb)
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// workloadUID is the UID of the Deployment that owns a rollout; empty if
// none is recorded.
func workloadUID(gld *gitlabv1alpha1.GitLabDeployment) types.UID {
	for _, ref := range gld.OwnerReferences {
		if ref.Kind == kindDeployment {
			return ref.UID
		}
	}
	return ""
}

// Revision is the number the workload controller gave a rollout; 0 if none.
func Revision(gld *gitlabv1alpha1.GitLabDeployment) int64 {
	n, _ := strconv.ParseInt(gld.Annotations[gitlabv1alpha1.AnnotationRevision], 10, 64)
	return n
}

// Watched reports whether a change of its Deployment can still change a
// rollout's record or status, so that it must be reconciled: the newest
// rollout, a rollout of the Deployment's current template (a rejected one
// applied again is kept held), one whose record is unfinished or has a
// write in flight, one still shown in progress (to be marked canceled), and
// one that finished without a record (GitLab could not be told in time).
// Every other rollout of the history is settled and costs nothing.
func Watched(gld *gitlabv1alpha1.GitLabDeployment, newest bool, currentHash string) bool {
	st := &gld.Status
	switch {
	case newest, Hash(gld) == currentHash, st.Record.Intent != "":
		return true
	case st.Record.Status == gitlab.StatusRunning || st.Record.Status == gitlab.StatusCreated:
		return true
	case st.Phase == gitlabv1alpha1.PhaseProgressing || st.Phase == gitlabv1alpha1.PhaseAwaitingApproval:
		return true
	}
	return st.Record.ID == 0 && (st.Phase == gitlabv1alpha1.PhaseSucceeded || st.Phase == gitlabv1alpha1.PhaseFailed)
}

// Settled reports whether a rollout that is not its Deployment's newest can
// leave rollgate's watch for good: it is not watched (Watched), its approval
// was not declined (a declined template applied again stays held by it),
// and it is not being deleted. currentHash is the Deployment's current pod
// template hash.
func Settled(gld *gitlabv1alpha1.GitLabDeployment, currentHash string) bool {
	return gld.DeletionTimestamp.IsZero() && !Declined(gld) && !Watched(gld, false, currentHash)
}

// IsSettled reports whether a rollout carries the settled label.
func IsSettled(gld *gitlabv1alpha1.GitLabDeployment) bool {
	_, ok := gld.Labels[gitlabv1alpha1.LabelSettled]
	return ok
}

// Succeeded reports whether a rollout ran to completion.
func Succeeded(gld *gitlabv1alpha1.GitLabDeployment) bool {
	return gld.Status.Phase == gitlabv1alpha1.PhaseSucceeded || gld.Status.Record.Status == gitlab.StatusSuccess
}
