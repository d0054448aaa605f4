package main

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// approvalAnnotation gates production on the approvals given on rollgate's
// own GitLab record.
const approvalAnnotation = "source=Record"

// stepProduction deploys hello to production, where GitLab requires an
// approval, and walks through the approval.
func (s *story) stepProduction(ctx context.Context) error {
	s.n.heading("Step 2 of 3: production needs an approval")
	s.n.say("In GitLab, %q is a protected environment: each deployment needs one approval from %s.",
		envProduction, approverUser)
	s.n.say("The production Deployment asks rollgate to hold its rollouts until then: %s: %s.",
		gitlabv1alpha1.AnnotationApproval, approvalAnnotation)
	if err := createNamespace(ctx, s.kube, envProduction); err != nil {
		return err
	}
	s.n.say("It also tells GitLab what production is: %s: %s and %s: %s.",
		gitlabv1alpha1.AnnotationTier, envProduction, gitlabv1alpha1.AnnotationExternalURL, productionURL)
	d := helloDeployment(envProduction, map[string]string{
		gitlabv1alpha1.AnnotationApproval:    approvalAnnotation,
		gitlabv1alpha1.AnnotationTier:        envProduction,
		gitlabv1alpha1.AnnotationExternalURL: productionURL,
	})
	if err := s.kube.Create(ctx, d); err != nil {
		return err
	}
	held, err := s.waitHeld(ctx)
	if err != nil {
		return err
	}
	if held == nil {
		s.gate = gateUnavailable
		return s.reportNoGate(ctx)
	}
	if err := s.showHeld(ctx, held); err != nil {
		return err
	}
	return s.decide(ctx, approvalTarget(held))
}

// waitHeld waits for the production rollout to be held for approval. It
// returns nil when the rollout went ahead without being held (a build
// without the approval gate).
func (s *story) waitHeld(ctx context.Context) (*gitlabv1alpha1.GitLabDeployment, error) {
	var held *gitlabv1alpha1.GitLabDeployment
	_, err := s.waitUntil(ctx, holdTimeout, "the production rollout to be held", func(snap snapshot) bool {
		g := rolloutOf(snap.rollouts, envProduction, shaV1)
		if g == nil {
			return false
		}
		if a := g.Status.Approval; a != nil && a.State == gitlabv1alpha1.ApprovalAwaiting && approvalTarget(g) != 0 {
			held = g
			return true
		}
		return g.Status.Phase == gitlabv1alpha1.PhaseSucceeded
	})
	if errors.Is(err, errTimeout) {
		return nil, nil
	}
	return held, err
}

// approvalTarget is the ID of the GitLab deployment that carries the
// approvals of a held rollout.
func approvalTarget(g *gitlabv1alpha1.GitLabDeployment) int64 {
	if g.Status.Approval != nil && g.Status.Approval.DeploymentID != 0 {
		return g.Status.Approval.DeploymentID
	}
	return g.Status.Record.ID
}

// showHeld tells that the rollout is held, that no pod of it runs, and what
// GitLab waits for.
func (s *story) showHeld(ctx context.Context, held *gitlabv1alpha1.GitLabDeployment) error {
	var d appsv1.Deployment
	if err := s.kube.Get(ctx, client.ObjectKey{Namespace: envProduction, Name: appName}, &d); err != nil {
		return err
	}
	record, err := s.gl.deployment(ctx, approvalTarget(held))
	if err != nil {
		return err
	}
	s.n.good("rollgate recorded the rollout in GitLab (deployment #%d) and holds it: the Deployment is paused=%t,",
		held.Status.Record.IID, d.Spec.Paused)
	s.n.say("with %d pods of the new version. In GitLab, deployment #%d waits for %d approval.",
		d.Status.UpdatedReplicas, record.IID, record.PendingApprovalCount)
	snap, err := s.look(ctx)
	if err != nil {
		return err
	}
	s.showState(snap)
	return nil
}

// reportNoGate says plainly that this build does not hold rollouts, and
// waits for the ungated rollout to finish so the story can go on.
func (s *story) reportNoGate(ctx context.Context) error {
	s.n.bad("The production rollout was not held for approval: this build of rollgate has no approval gate")
	s.n.bad("(no admission webhook in config/webhook, or the gate did not act within %v).", holdTimeout)
	s.n.say("Without the gate, rollgate still records the rollout; it just does not wait for %s.", approverUser)
	snap, err := s.waitUntil(ctx, rolloutTimeout, "production's rollout to succeed",
		settled(envProduction, shaV1, "success", gitlabv1alpha1.PhaseSucceeded))
	if err != nil {
		return fmt.Errorf("production: %w", err)
	}
	s.showState(snap)
	return nil
}
