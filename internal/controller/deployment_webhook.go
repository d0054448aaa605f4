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

// The self-managed webhook certificate (internal/webhookcert) sets the
// caBundle of rollgate's own webhook configurations and keeps the CA in a
// Secret of the operator's namespace; both are named, so nothing else can be
// read or changed (a create cannot be limited by name). Every replica
// watches the three objects; its list and watch ask for metadata.name, which
// the API server authorizes by resource name.
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,resourceNames=rollgate-mutating-webhook-configuration,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=rollgate-validating-webhook-configuration,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=rollgate-webhook-cert,verbs=get;list;watch;update
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// SetupDeploymentGateWebhook registers the admission webhooks that hold a
// gated Deployment's unapproved pod template (mutating: spec.paused) and
// stop anyone but rollgate, named by username, from releasing it
// (validating).
func SetupDeploymentGateWebhook(mgr ctrl.Manager, username string) error {
	return ctrl.NewWebhookManagedBy(mgr, &appsv1.Deployment{}).
		WithDefaulter(&DeploymentHolder{Reader: mgr.GetClient(), Username: username}).
		WithValidator(&DeploymentGuard{Username: username}).
		Complete()
}

// Gated reports whether a Deployment asks for its rollouts to wait for
// GitLab's approval. An approval annotation that is present but cannot be
// parsed gates too (fail closed): a typo never turns the gate off.
func Gated(deploy *appsv1.Deployment) bool {
	if !OptedIn(deploy.Annotations) {
		return false
	}
	gate, err := ParseApproval(deploy.Annotations[gitlabv1alpha1.AnnotationApproval])
	return err != nil || gate != nil
}

// Held reports whether rollgate holds the Deployment's current template.
func Held(deploy *appsv1.Deployment) bool {
	return deploy.Spec.Paused && deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] == TemplateHash(&deploy.Spec.Template)
}

// DeploymentHolder pauses a gated Deployment whose pod template changes to
// one that is not approved, before the Deployment controller sees it.
type DeploymentHolder struct {
	// Reader lists GitLabDeployments (the manager's cache).
	Reader client.Reader
	// Username is rollgate's own user, whose writes are never held.
	Username string
}

// Default holds the Deployment's template unless it is approved.
func (h *DeploymentHolder) Default(ctx context.Context, deploy *appsv1.Deployment) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if !Gated(deploy) || req.UserInfo.Username == h.Username {
		return nil
	}
	var old *appsv1.Deployment
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		old = &appsv1.Deployment{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return fmt.Errorf("decoding the old Deployment: %w", err)
		}
	}
	hash := TemplateHash(&deploy.Spec.Template)
	if old != nil && TemplateHash(&old.Spec.Template) == hash {
		carryHold(deploy, old)
		return nil
	}
	// A new template from a user is no longer the one rollgate restored.
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationRestoredTemplate)
	if deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] != "" {
		deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = req.UserInfo.Username
		return nil
	}
	rollouts, err := rolloutsOf(ctx, h.Reader, deploy.Namespace, deploy.Name)
	if err != nil {
		return err
	}
	if templateApproved(rollouts, hash) {
		if old != nil && Held(old) {
			release(deploy)
		}
		return nil
	}
	hold(deploy, hash)
	logf.FromContext(ctx).Info("Held an unapproved pod template", "deployment", deploy.Name,
		"namespace", deploy.Namespace, "podTemplateHash", hash, "user", req.UserInfo.Username)
	return nil
}

// carryHold keeps rollgate's hold marker on an update that does not change
// the template, in case the writer replaced the annotations.
func carryHold(deploy, old *appsv1.Deployment) {
	v, ok := old.Annotations[gitlabv1alpha1.AnnotationHeldTemplate]
	if !ok || !old.Spec.Paused {
		return
	}
	if _, has := deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate]; !has {
		deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] = v
	}
	if by, ok := old.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy]; ok && deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] != "" {
		deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy] = by
	}
}

// hold pauses the Deployment and marks the held template.
func hold(deploy *appsv1.Deployment, hash string) {
	deploy.Spec.Paused = true
	if deploy.Annotations == nil {
		deploy.Annotations = map[string]string{}
	}
	deploy.Annotations[gitlabv1alpha1.AnnotationHeldTemplate] = hash
}

// release unpauses the Deployment and removes the hold marker.
func release(deploy *appsv1.Deployment) {
	deploy.Spec.Paused = false
	delete(deploy.Annotations, gitlabv1alpha1.AnnotationHeldTemplate)
}

// templateApproved reports whether a rollout of the template was approved or
// bypassed, or ran to completion before the Deployment was gated.
func templateApproved(rollouts []gitlabv1alpha1.GitLabDeployment, hash string) bool {
	for i := range rollouts {
		gld := &rollouts[i]
		if rolloutHash(gld) != hash {
			continue
		}
		if a := gld.Status.Approval; a != nil {
			if a.State == gitlabv1alpha1.ApprovalApproved || a.State == gitlabv1alpha1.ApprovalBypassed {
				return true
			}
			continue
		}
		if gld.Status.Phase == gitlabv1alpha1.PhaseSucceeded {
			return true
		}
	}
	return false
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

// ValidateUpdate refuses to release a held template without approval.
func (g *DeploymentGuard) ValidateUpdate(ctx context.Context, old, deploy *appsv1.Deployment) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if req.UserInfo.Username == g.Username || !Held(old) || deploy.Spec.Paused {
		return nil, nil
	}
	if TemplateHash(&deploy.Spec.Template) != TemplateHash(&old.Spec.Template) {
		// A new template: the holder has judged it and left it unpaused.
		return nil, nil
	}
	if reason := deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypass]; reason != "" {
		return admission.Warnings{fmt.Sprintf("approval bypassed (%q); rollgate records the bypass", reason)}, nil
	}
	hash := TemplateHash(&old.Spec.Template)
	return nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, deploy.Name,
		fmt.Errorf("the rollout of pod template %s is held until GitLab approves it (GitLabDeployment %s-%s); "+
			"to release it without approval, set the annotation %s to the reason", hash, deploy.Name, hash,
			gitlabv1alpha1.AnnotationApprovalBypass))
}
