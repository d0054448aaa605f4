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

// Package webhook holds the admission webhooks of the approval gate: the
// holder pauses a gated Deployment on an unapproved pod template, the guard
// stops anyone but rollgate from releasing it.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// Only Deployments that are or were gated reach the webhooks (the
// matchConditions: the approval annotation, not "false", on the new or the
// old object, or rollgate's hold marker on the old one); a value rollgate
// cannot parse is sent too, so that it fails closed. For those the failure
// policy is Fail: while rollgate is unreachable their new templates are
// refused, and every other workload never waits on rollgate. An installer
// that sets Ignore instead still has the GitLabDeployment controller pause a
// gated rollout that slipped past (HeldLate).
//
// +kubebuilder:webhook:path=/mutate-apps-v1-deployment,mutating=true,failurePolicy=fail,sideEffects=None,groups=apps,resources=deployments,verbs=create;update,versions=v1,name=hold.gate.gitlab.rollgate.dev,admissionReviewVersions=v1,timeoutSeconds=5,reinvocationPolicy=IfNeeded,patch=`{"matchConditions":[{"name":"gated-or-held","expression":"(has(object.metadata.annotations) && 'gitlab.rollgate.dev/approval' in object.metadata.annotations && !(object.metadata.annotations['gitlab.rollgate.dev/approval'].lowerAscii() in ['', 'false'])) || (oldObject != null && has(oldObject.metadata.annotations) && ('gitlab.rollgate.dev/held-template' in oldObject.metadata.annotations || ('gitlab.rollgate.dev/approval' in oldObject.metadata.annotations && !(oldObject.metadata.annotations['gitlab.rollgate.dev/approval'].lowerAscii() in ['', 'false']))))"}]}`
// +kubebuilder:webhook:path=/validate-apps-v1-deployment,mutating=false,failurePolicy=fail,sideEffects=None,groups=apps,resources=deployments,verbs=update,versions=v1,name=guard.gate.gitlab.rollgate.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"gated-or-held","expression":"(has(object.metadata.annotations) && 'gitlab.rollgate.dev/approval' in object.metadata.annotations && !(object.metadata.annotations['gitlab.rollgate.dev/approval'].lowerAscii() in ['', 'false'])) || (oldObject != null && has(oldObject.metadata.annotations) && ('gitlab.rollgate.dev/held-template' in oldObject.metadata.annotations || ('gitlab.rollgate.dev/approval' in oldObject.metadata.annotations && !(oldObject.metadata.annotations['gitlab.rollgate.dev/approval'].lowerAscii() in ['', 'false']))))"}]}`

// SetupDeploymentGateWebhook registers the admission webhooks that hold a
// gated Deployment's unapproved pod template (mutating: spec.paused) and
// stop anyone but rollgate, named by username, from releasing it
// (validating). historyReader lists a Deployment's whole history
// (history.Reader).
func SetupDeploymentGateWebhook(mgr ctrl.Manager, historyReader client.Reader, username string, keys *bypass.Keys) error {
	return ctrl.NewWebhookManagedBy(mgr, &appsv1.Deployment{}).
		WithDefaulter(&DeploymentHolder{Reader: mgr.GetClient(), APIReader: historyReader, Username: username, Keys: keys}).
		WithValidator(&DeploymentGuard{Username: username}).
		Complete()
}

// DeploymentHolder pauses a gated Deployment whose pod template changes to
// one that is not approved, before the Deployment controller sees it.
type DeploymentHolder struct {
	// Reader lists GitLabDeployments (the manager's cache, which leaves
	// the settled history out).
	Reader client.Reader
	// APIReader lists the whole history from the API server
	// (history.Reader) when the cached rollouts do not approve a template;
	// Reader is used if nil.
	APIReader client.Reader
	// Username is rollgate's own user, whose writes are never held.
	Username string
	// Keys signs the user who sets the bypass.
	Keys *bypass.Keys
}

// Default holds the Deployment's template unless it is approved.
func (h *DeploymentHolder) Default(ctx context.Context, deploy *appsv1.Deployment) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.UserInfo.Username == h.Username {
		return nil
	}
	var old *appsv1.Deployment
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		old = &appsv1.Deployment{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return fmt.Errorf("decoding the old Deployment: %w", err)
		}
	}
	hash := rollout.TemplateHash(&deploy.Spec.Template)
	sameTemplate := old != nil && rollout.TemplateHash(&old.Spec.Template) == hash
	freshBypass, err := h.signBypass(ctx, deploy, old, hash, sameTemplate, req.UserInfo.Username)
	if err != nil {
		return err
	}
	if sameTemplate {
		// Also when the gate is removed: a held rollout stays held.
		rollout.CarryHold(deploy, old)
		return nil
	}
	if !rollout.Gated(deploy) {
		return nil
	}
	// A new template from a user is no longer the one rollgate restored.
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationRestoredTemplate)
	if freshBypass {
		// A bypass set together with the new template releases it; one left
		// from before was removed by signBypass: a bypass is spent once.
		if old != nil && rollout.Held(old) {
			rollout.Release(deploy)
		}
		return nil
	}
	live := h.APIReader
	if live == nil {
		live = h.Reader
	}
	approved, err := history.Approved(ctx, h.Reader, live, deploy.Namespace, deploy.Name, hash, "")
	if err != nil {
		return err
	}
	if approved {
		if old != nil && rollout.Held(old) {
			rollout.Release(deploy)
		}
		return nil
	}
	rollout.Hold(deploy, hash)
	logf.FromContext(ctx).Info("Held an unapproved pod template", "deployment", deploy.Name,
		"namespace", deploy.Namespace, "podTemplateHash", hash, "user", req.UserInfo.Username)
	return nil
}

// signBypass records who set the bypass annotation, as the API server
// authenticated them, so that nobody can claim another name: the
// bypassed-by annotation is the user of the request that set or changed the
// bypass, signed for this Deployment, reason and template (package bypass),
// so that the controller can tell it from a value anyone else wrote. A
// bypass left as it was keeps its signed name while the template stays
// (another value is removed); one left from an earlier template is removed
// with its name, since a bypass applies only to the template it was set for.
// It reports whether this request set or changed the bypass.
func (h *DeploymentHolder) signBypass(ctx context.Context, deploy, old *appsv1.Deployment, hash string, sameTemplate bool, username string) (bool, error) {
	reason := deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass]
	if reason == "" {
		delete(deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypassedBy)
		return false, nil
	}
	user, fresh := username, true
	if old != nil && old.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] == reason {
		if !sameTemplate {
			rollout.DropBypass(deploy)
			return false, nil
		}
		signed, ok, err := h.Keys.Verify(ctx, old, reason, old.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy])
		if err != nil {
			return false, fmt.Errorf("checking who set the approval bypass: %w", err)
		}
		if !ok || signed.Template != hash {
			delete(deploy.Annotations, gitlabv1alpha1.AnnotationApprovalBypassedBy)
			return false, nil
		}
		// Signed again, with the UID that a Deployment created with the
		// bypass did not have yet.
		user, fresh = signed.User, false
	}
	by, err := h.Keys.Sign(ctx, deploy, hash, reason, user)
	if err != nil {
		return false, fmt.Errorf("signing who set the approval bypass: %w", err)
	}
	deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = by
	return fresh, nil
}

// DeploymentGuard refuses to unpause a Deployment that rollgate holds for
// approval, unless the bypass annotation is set or rollgate itself asks.
type DeploymentGuard struct {
	// Username is rollgate's own user.
	Username string
}

// ValidateCreate allows every create: the holder pauses what needs pausing.
func (g *DeploymentGuard) ValidateCreate(context.Context, *appsv1.Deployment) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete allows every delete.
func (g *DeploymentGuard) ValidateDelete(context.Context, *appsv1.Deployment) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate refuses to release a held template without approval:
// unpausing it, or removing or changing rollgate's hold marker (which would
// leave a paused Deployment that anyone may unpause in a second update).
func (g *DeploymentGuard) ValidateUpdate(ctx context.Context, old, deploy *appsv1.Deployment) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if req.UserInfo.Username == g.Username || !rollout.Held(old) || rollout.Held(deploy) {
		return nil, nil
	}
	if rollout.TemplateHash(&deploy.Spec.Template) != rollout.TemplateHash(&old.Spec.Template) {
		// A new template: the holder has judged it and left it unpaused.
		return nil, nil
	}
	if reason := deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass]; reason != "" {
		return admission.Warnings{fmt.Sprintf("approval bypassed (%q); rollgate records the bypass", reason)}, nil
	}
	hash := rollout.TemplateHash(&old.Spec.Template)
	return nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, deploy.Name,
		fmt.Errorf("the rollout of pod template %s is held until GitLab approves it (GitLabDeployment %s-%s); "+
			"to release it without approval, set the annotation %s to the reason", hash, deploy.Name, hash,
			gitlabv1alpha1.AnnotationApprovalBypass))
}
