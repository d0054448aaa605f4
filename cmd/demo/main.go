// Command demo shows rollgate end to end on one machine, with no cluster or
// GitLab of the reader's own: it starts a local Kubernetes cluster
// (internal/localcluster), the fake GitLab (cmd/fake-gitlab) and rollgate's manager
// (cmd) as separate processes, deploys a sample application to a staging and
// a production environment, and narrates what GitLab records: a rollout
// running then successful, a production rollout held until it is approved,
// and a broken rollout recorded as failed.
//
// Run it with `make demo`, which builds everything first. The production
// rollout waits for an approval given through GitLab's API (the demo prints
// the curl command) or by pressing Enter. With --auto-approve, with
// DEMO_AUTO_APPROVE=1, or when stdin is not a terminal, the demo approves by
// itself and exits when the story ends; otherwise it keeps everything running
// for exploring until Ctrl-C. Ctrl-C or SIGTERM stops every process it
// started at any time.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, newNarrator(os.Stdout), o)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted:
		_, _ = fmt.Fprintln(os.Stderr, "demo: interrupted; everything it started is stopped")
		os.Exit(130)
	case err != nil:
		_, _ = fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run sets the stage, tells the story and tears everything down.
func run(ctx context.Context, n *narrator, o *options) (err error) {
	env, err := setUp(ctx, n, o)
	if err != nil {
		return err
	}
	defer func() {
		n.say("Stopping rollgate, the fake GitLab and the cluster.")
		err = errors.Join(err, env.tearDown())
	}()
	s := &story{
		observer:    &observer{n: n, gl: env.gitlab, kube: env.kube, seen: map[int64]string{}},
		autoApprove: o.autoApprove,
	}
	if !o.autoApprove {
		s.approveKey = enterPresses(ctx)
	}
	for _, step := range []func(context.Context) error{s.stepStaging, s.stepProduction, s.stepBroken} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if err := s.summarize(ctx, env, o); err != nil {
		return err
	}
	if !o.autoApprove {
		n.say("Everything keeps running so you can explore. Press Ctrl-C to stop it all and clean up.")
		<-ctx.Done()
	}
	return nil
}
