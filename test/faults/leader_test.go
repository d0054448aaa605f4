package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// acquiredLease is what client-go's leader election logs on becoming
// leader, lowercased.
const acquiredLease = "successfully acquired lease"

// TestLeaderTakeover runs two managers with leader election and kills the
// leader again and again, each time right before a new rollout. Figures:
// how long until the other manager holds the lease and until the rollout
// is recorded. Promises: the other manager takes over every time, and the
// rollouts are recorded once each, right.
func TestLeaderTakeover(t *testing.T) {
	env := []string{"POD_NAMESPACE=" + systemNamespace}
	pair := []*leaderCandidate{
		{manager: startManager(t, "a", env, "--leader-elect")},
		{manager: startManager(t, "b", env, "--leader-elect")},
	}
	probe := newStream(t, "leader", 1, nil)
	dep := probe.deps[0]
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 10)) //nolint:gosec // test randomness

	leaseTimes := make([]time.Duration, 0, params.Takeovers)
	recordTimes := make([]time.Duration, 0, params.Takeovers)
	for i := range params.Takeovers {
		leader := waitLeader(t, pair, time.Minute)
		if leader == nil {
			t.Fatalf("takeover %d: no manager became leader within a minute", i+1)
		}
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))) //nolint:forbidigo // the fault's timing: kill at a random moment
		killed := time.Now()
		if err := leader.kill(); err != nil {
			t.Fatal(err)
		}
		sha := nextSHA()
		probe.oracle.expect(dep.name, sha, kindSucceed)
		if err := probe.apply(t.Context(), dep, sha, false); err != nil {
			t.Fatal(err)
		}
		other := pair[0]
		if other == leader {
			other = pair[1]
		}
		lease, ok := other.waitAcquired(time.Minute)
		if !ok {
			t.Fatalf("takeover %d: manager %s did not take the lease within a minute of %s's kill", i+1, other.name, leader.name)
		}
		leaseTimes = append(leaseTimes, lease.Sub(killed))
		recorded, ok := waitRecord(probe.project, dep.name, sha, gitlab.StatusSuccess, time.Minute)
		if !ok {
			t.Errorf("takeover %d: rollout %s was not recorded as success within a minute of the leader's kill", i+1, short(sha))
		} else {
			recordTimes = append(recordTimes, recorded.Sub(killed))
		}
		// The killed manager comes back as the standby.
		leader.logFrom = logSize(leader.LogPath)
		if err := leader.start(); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := settle(t, probe.oracle, probe.project, time.Now())
	rows := append([][2]string{
		{"leader kills", fmt.Sprint(params.Takeovers)},
		{"takeover: kill → lease held by the other manager (min / median / max)", spread(leaseTimes)},
		{"takeover: kill → the next rollout recorded success (min / median / max)", spread(recordTimes)},
	}, verdictRows(v)...)
	logTable(t, "Leader takeover: "+t.Name(), rows)
	assertVerdict(t, v)
}

// leaderCandidate is one of two managers electing a leader; logFrom is
// where its current run's log starts.
type leaderCandidate struct {
	*manager
	logFrom int64
}

// acquired reports when the current run logged that it became leader.
func (c *leaderCandidate) acquired() bool {
	data, err := os.ReadFile(c.LogPath)
	if err != nil || int64(len(data)) < c.logFrom {
		return false
	}
	return strings.Contains(strings.ToLower(string(data[c.logFrom:])), acquiredLease)
}

func (c *leaderCandidate) waitAcquired(timeout time.Duration) (time.Time, bool) {
	if waitUntil(context.Background(), 50*time.Millisecond, timeout, func() bool { return c.Running() && c.acquired() }) {
		return time.Now(), true
	}
	return time.Time{}, false
}

// waitLeader returns the running candidate that holds the lease.
func waitLeader(t *testing.T, pair []*leaderCandidate, timeout time.Duration) *leaderCandidate {
	t.Helper()
	var leader *leaderCandidate
	waitUntil(t.Context(), 50*time.Millisecond, timeout, func() bool {
		var leaders []*leaderCandidate
		for _, c := range pair {
			if c.Running() && c.acquired() {
				leaders = append(leaders, c)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("both managers say they acquired the lease")
		}
		if len(leaders) == 1 {
			leader = leaders[0]
		}
		return leader != nil
	})
	return leader
}

func logSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// waitRecord waits until the record of sha in environment has status and
// returns when it saw it.
func waitRecord(project, environment, sha, status string, timeout time.Duration) (time.Time, bool) {
	seen := waitUntil(context.Background(), 50*time.Millisecond, timeout, func() bool {
		recs, err := gitLab.Deployments(project, environment)
		return err == nil && slices.ContainsFunc(recs, func(r gitlabtest.Deployment) bool { return r.SHA == sha && r.Status == status })
	})
	if seen {
		return time.Now(), true
	}
	return time.Time{}, false
}

// spread is "min / median / max" of durations.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(ds))
	r := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	return fmt.Sprintf("%s / %s / %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
