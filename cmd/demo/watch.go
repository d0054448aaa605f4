package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// pollInterval is how often the demo reads GitLab and the cluster.
const pollInterval = 250 * time.Millisecond

// errTimeout says that what a step waited for did not happen in time.
var errTimeout = errors.New("timed out")

// snapshot is what one look at GitLab and the cluster saw.
type snapshot struct {
	records  []deployment
	rollouts []gitlabv1alpha1.GitLabDeployment
}

// record returns the GitLab deployment of env for sha, if any.
func (s snapshot) record(env, sha string) *deployment {
	for i := range s.records {
		if s.records[i].Environment.Name == env && s.records[i].SHA == sha {
			return &s.records[i]
		}
	}
	return nil
}

// observer reads GitLab's REST API and the cluster's GitLabDeployments, and
// narrates every GitLab status it has not seen before.
type observer struct {
	n    *narrator
	gl   *fakeGitLab
	kube client.Client
	// seen is the last status told of each GitLab deployment, by ID.
	seen map[int64]string
}

// look reads GitLab and the cluster once, telling what changed in GitLab.
func (o *observer) look(ctx context.Context) (snapshot, error) {
	records, err := o.gl.deployments(ctx)
	if err != nil {
		return snapshot{}, err
	}
	items, err := rollouts(ctx, o.kube)
	if err != nil {
		return snapshot{}, err
	}
	for _, d := range records {
		if o.seen[d.ID] != d.Status {
			o.seen[d.ID] = d.Status
			o.n.say("%s", recordLine(d))
		}
	}
	return snapshot{records: records, rollouts: items}, nil
}

// waitUntil looks every pollInterval until done reports true, for at most
// timeout (zero: until ctx ends). It fails with errTimeout naming what when
// time runs out.
func (o *observer) waitUntil(ctx context.Context, timeout time.Duration, what string,
	done func(snapshot) bool) (snapshot, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		s, err := o.look(ctx)
		if err == nil && done(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-deadline:
			if err != nil {
				return s, fmt.Errorf("%w waiting for %s (last error: %w)", errTimeout, what, err)
			}
			return s, fmt.Errorf("%w after %v waiting for %s", errTimeout, timeout, what)
		case <-ticker.C:
		}
	}
}

// showState prints GitLab's records and the GitLabDeployments of s.
func (o *observer) showState(s snapshot) {
	o.n.say("GitLab's deployments (GET /api/v4/projects/%d/deployments):", projectID)
	o.n.block(recordsTable(s.records))
	o.n.say("rollgate's GitLabDeployments (kubectl get gld -A):")
	o.n.block(gldTable(s.rollouts))
}
