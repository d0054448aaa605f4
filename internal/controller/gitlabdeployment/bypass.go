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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// unknownUser names who set a bypass that rollgate's admission webhook did
// not sign.
const unknownUser = "an unknown user"

// reasonBypassIgnored is the Event of a bypass removed without releasing.
const reasonBypassIgnored = "BypassIgnored"

// bypass releases the rollout without approval, as the bypass annotation
// (reason; empty for none) asks, and records who asked and why. It reports
// whether it did: a bypass signed for another template is removed instead,
// and the gate goes on.
func (r *Reconciler) bypass(ctx context.Context, s *scope, reason string) (bool, error) {
	if reason == "" {
		return false, nil
	}
	by, template, err := r.bypassedBy(ctx, s, reason)
	if err != nil {
		return false, err
	}
	if template != s.gld.Status.PodTemplateHash {
		r.warn(s.gld, reasonBypassIgnored, "Bypass", "Removed the bypass of %s (%s): it was set for pod template %s, not %s; "+
			"a bypass applies only to the template it was set for", by, reason, template, s.gld.Status.PodTemplateHash)
		return false, r.removeBypass(ctx, s)
	}
	if s.gld.Status.Approval == nil {
		now := metav1.NewTime(s.now)
		s.gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{RequestedAt: &now}
	}
	s.gld.Status.Approval.Bypass = &gitlabv1alpha1.ApprovalBypass{User: rollout.Truncate(by, 500), Reason: rollout.Truncate(reason, 1000)}
	r.decide(s, gitlabv1alpha1.ApprovalBypassed, gitlabv1alpha1.ReasonBypassed, "Released without approval by "+by+": "+reason)
	r.warn(s.gld, "ApprovalBypassed", "Bypass", "Released pod template %s without GitLab approval; bypassed by %s: %s",
		s.gld.Status.PodTemplateHash, by, reason)
	r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeWarning, "ApprovalBypassed", "Bypass",
		"Released pod template %s without GitLab approval; bypassed by %s: %s", s.gld.Status.PodTemplateHash, by, reason)
	// The bypass is saved before the Deployment changes, so that a crash in
	// between cannot leave a released rollout that nobody recorded.
	if err := r.checkpoint(ctx, s); err != nil {
		return false, err
	}
	patch := client.MergeFrom(s.observed.deploy.DeepCopy())
	rollout.Release(s.observed.deploy)
	rollout.DropBypass(s.observed.deploy)
	if err := r.Patch(ctx, s.observed.deploy, patch); err != nil {
		return false, err
	}
	if s.observed.state == rollout.StateHeld {
		s.target = rollout.StateProgressing
	}
	return true, nil
}

// bypassedBy returns who set the bypass and the template it was set for: the
// user rollgate's admission webhook signed, or an unknown user for the
// current template when no signature verifies (the webhook was not called,
// or someone else wrote the name).
func (r *Reconciler) bypassedBy(ctx context.Context, s *scope, reason string) (string, string, error) {
	value := s.observed.deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy]
	if value == "" || r.BypassKeys == nil {
		return unknownUser, s.gld.Status.PodTemplateHash, nil
	}
	signed, ok, err := r.BypassKeys.Verify(ctx, s.observed.deploy, reason, value)
	if err != nil || !ok {
		return unknownUser, s.gld.Status.PodTemplateHash, err
	}
	return signed.User, signed.Template, nil
}

// spendBypass removes a bypass (reason; empty for none) set on a rollout
// already approved or bypassed: it has nothing to release, and must not stay
// on the Deployment for a later template.
func (r *Reconciler) spendBypass(ctx context.Context, s *scope, reason string) error {
	if reason == "" {
		return nil
	}
	by, _, err := r.bypassedBy(ctx, s, reason)
	if err != nil {
		return err
	}
	msg := "Removed the bypass of " + by + " (" + reason + "): pod template " + s.gld.Status.PodTemplateHash + " was " +
		string(s.gld.Status.Approval.State) + " already, and a bypass does not carry over to a later template"
	r.normal(s.gld, reasonBypassIgnored, "Bypass", "%s", msg)
	r.tellDeployment(s.observed.deploy, s.gld, corev1.EventTypeNormal, reasonBypassIgnored, "Bypass", "%s", msg)
	return r.removeBypass(ctx, s)
}

// removeBypass removes both bypass annotations from the Deployment.
func (r *Reconciler) removeBypass(ctx context.Context, s *scope) error {
	patch := client.MergeFrom(s.observed.deploy.DeepCopy())
	rollout.DropBypass(s.observed.deploy)
	return r.Patch(ctx, s.observed.deploy, patch)
}
