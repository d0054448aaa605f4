package main

import (
	"context"
	"fmt"
	"time"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// decide shows how to approve or reject GitLab deployment id, gets it
// approved (by the reader, or by itself in non-interactive mode) and follows
// the rollout to its end.
func (s *story) decide(ctx context.Context, id int64) error {
	s.n.say("To approve it as %s, call GitLab's approval API (deployment id %d):", approverUser, id)
	s.n.command(s.gl.approveCommand(id, statusApproved, approveComment))
	s.n.say("or reject it with status=rejected:")
	s.n.command(s.gl.approveCommand(id, statusRejected, "Not this week"))
	if s.autoApprove {
		s.n.say("Non-interactive mode: approving as %s with that same request.", approverUser)
		if err := s.gl.approve(ctx, id, statusApproved, approveComment); err != nil {
			return err
		}
	} else {
		s.n.say("Waiting for a decision: run one of the commands in another terminal, or press Enter to approve as %s.",
			approverUser)
		go s.approveOnEnter(ctx, id)
	}
	return s.followDecision(ctx)
}

// approveComment is the comment of the demo's approval.
const approveComment = "Looks good"

// approveOnEnter approves deployment id when the reader presses Enter.
func (s *story) approveOnEnter(ctx context.Context, id int64) {
	select {
	case <-ctx.Done():
	case <-s.approveKey:
		if err := s.gl.approve(ctx, id, statusApproved, "Approved from the demo"); err != nil {
			s.n.bad("Approving failed: %v", err)
		}
	}
}

// followDecision waits for the gate to be decided (a person may take their
// time; the non-interactive mode may not), then for the rollout to finish
// accordingly.
func (s *story) followDecision(ctx context.Context) error {
	var limit time.Duration
	if s.autoApprove {
		limit = rolloutTimeout
	}
	snap, err := s.waitUntil(ctx, limit, "the approval to reach rollgate", func(snap snapshot) bool {
		g := rolloutOf(snap.rollouts, envProduction, shaV1)
		return g != nil && g.Status.Approval != nil && g.Status.Approval.State != gitlabv1alpha1.ApprovalAwaiting
	})
	if err != nil {
		return err
	}
	g := rolloutOf(snap.rollouts, envProduction, shaV1)
	for _, a := range g.Status.Approval.Approvals {
		s.n.say("GitLab: %s %s the deployment%s.", a.User, a.Status, comment(a.Comment))
	}
	if g.Status.Approval.State != gitlabv1alpha1.ApprovalApproved {
		s.gate = gateRejected
		return s.followRejection(ctx, g.Status.Approval.State)
	}
	s.gate = gateApproved
	s.n.good("Approved: rollgate lets the Deployment roll out.")
	snap, err = s.waitUntil(ctx, rolloutTimeout, "production's rollout to succeed",
		settled(envProduction, shaV1, "success", gitlabv1alpha1.PhaseSucceeded))
	if err != nil {
		return err
	}
	s.n.good("GitLab now shows production running %s, deployed successfully after %s's approval.",
		short(shaV1), approverUser)
	s.showState(snap)
	return s.showEnvironment(ctx)
}

// showEnvironment reads back from GitLab the production environment's tier
// and URL, which rollgate wrote from the annotations, and tells the merge
// requests GitLab linked to the production record.
func (s *story) showEnvironment(ctx context.Context) error {
	env, err := s.gl.environment(ctx, envProduction)
	if err != nil {
		return err
	}
	s.n.good("GitLab's production environment: tier %s, external URL %s (what the annotations ask for).",
		env.Tier, env.ExternalURL)
	snap, err := s.waitUntil(ctx, rolloutTimeout, "the merge requests production shipped", func(snap snapshot) bool {
		g := rolloutOf(snap.rollouts, envProduction, shaV1)
		return g != nil && g.Status.Shipped != nil
	})
	if err != nil {
		return err
	}
	shipped := rolloutOf(snap.rollouts, envProduction, shaV1).Status.Shipped
	s.n.good("The production rollout shipped %d merge requests (GitLab linked them to its record):", shipped.Count)
	for _, mr := range shipped.MergeRequests {
		s.n.say("  !%d %s  %s", mr.IID, mr.Title, mr.WebURL)
	}
	return nil
}

// followRejection waits for a rejected rollout to be recorded canceled.
func (s *story) followRejection(ctx context.Context, state gitlabv1alpha1.ApprovalState) error {
	s.n.bad("The rollout was not approved (%s): rollgate restores the previous version and cancels the record.", state)
	snap, err := s.waitUntil(ctx, rolloutTimeout, "production's record to be canceled",
		settled(envProduction, shaV1, "canceled", gitlabv1alpha1.PhaseCanceled))
	if err != nil {
		return err
	}
	s.n.say("No pod of the rejected version ever ran in production.")
	s.showState(snap)
	return nil
}

// comment renders an approval comment for a sentence.
func comment(c string) string {
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", c)
}
