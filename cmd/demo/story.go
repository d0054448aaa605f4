package main

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// How long each step waits for what it expects.
const (
	rolloutTimeout = 60 * time.Second
	holdTimeout    = 30 * time.Second
	failTimeout    = 90 * time.Second
)

// story runs the demo's three steps against a running environment.
type story struct {
	*observer
	// autoApprove approves the held production rollout without waiting for
	// a person.
	autoApprove bool
	// approveKey, when not nil, delivers a line typed by the reader: approve
	// as alice.
	approveKey <-chan struct{}
	// gate is what became of the approval step, for the summary.
	gate gateOutcome
}

// gateOutcome is how the production rollout went through the approval gate.
type gateOutcome string

// Outcomes of the approval step.
const (
	gateApproved    gateOutcome = "approved"
	gateRejected    gateOutcome = "rejected"
	gateUnavailable gateOutcome = "unavailable"
)

// stepStaging deploys hello to staging and waits for GitLab to show the
// rollout running, then successful.
func (s *story) stepStaging(ctx context.Context) error {
	s.n.heading("Step 1 of 3: a rollout to staging")
	s.n.say("Deploying %s (%d replicas, commit %s on %s) to the namespace %q.",
		appName, replicas, short(shaV1), ref, envStaging)
	s.n.say("Its annotation %s: %s asks rollgate to record every rollout in GitLab.",
		gitlabv1alpha1.AnnotationEnvironment, envStaging)
	if err := createNamespace(ctx, s.kube, envStaging); err != nil {
		return err
	}
	if err := s.kube.Create(ctx, helloDeployment(envStaging, nil)); err != nil {
		return err
	}
	snap, err := s.waitUntil(ctx, rolloutTimeout, "staging's rollout to succeed",
		settled(envStaging, shaV1, "success", gitlabv1alpha1.PhaseSucceeded))
	if err != nil {
		return err
	}
	s.n.good("All %d pods are ready: GitLab's environments page now shows staging running %s, deployed successfully.",
		replicas, short(shaV1))
	s.n.say("rollgate created the record as running when the rollout started,")
	s.n.say("and marked it success once all pods were available.")
	s.showState(snap)
	return nil
}

// stepBroken rolls out a release whose pods never become ready, and waits
// for GitLab to show it failed.
func (s *story) stepBroken(ctx context.Context) error {
	s.n.heading("Step 3 of 3: a broken release")
	s.n.say("Commit %s ships a %s whose pods never become ready: the cluster's simulated nodes", short(shaV2), appName)
	s.n.say("never mark pods labelled %s ready.", localcluster.NeverReadyLabel)
	s.n.say("It goes to staging with progressDeadlineSeconds: %d.", brokenDeadline)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := s.kube.Get(ctx, client.ObjectKey{Namespace: envStaging, Name: appName}, &d); err != nil {
			return err
		}
		breakRelease(&d)
		return s.kube.Update(ctx, &d)
	})
	if err != nil {
		return err
	}
	s.n.say("Kubernetes waits %ds for progress, then gives up with ProgressDeadlineExceeded.", brokenDeadline)
	snap, err := s.waitUntil(ctx, failTimeout, "the broken rollout to be recorded failed",
		settled(envStaging, shaV2, "failed", gitlabv1alpha1.PhaseFailed))
	if err != nil {
		return err
	}
	s.n.bad("GitLab now shows the staging deployment of %s as failed.", short(shaV2))
	s.n.say("The %d pods of %s still serve staging: a failed rollout never replaced them.", replicas, short(shaV1))
	s.showState(snap)
	return nil
}

// settled reports whether the rollout of sha in env has GitLab status
// status and its GitLabDeployment is in phase, so that both tables agree.
func settled(env, sha, status string, phase gitlabv1alpha1.RolloutPhase) func(snapshot) bool {
	return func(snap snapshot) bool {
		r, g := snap.record(env, sha), rolloutOf(snap.rollouts, env, sha)
		return r != nil && r.Status == status && g != nil && g.Status.Phase == phase
	}
}
