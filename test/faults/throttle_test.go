package faults

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// inFlight is how long after a 429 a request may still arrive that was sent
// before the client read the 429; later ones were sent knowing it.
const inFlight = 100 * time.Millisecond

// TestThrottling rolls out commits through 429 storms (every request
// answered 429 with Retry-After), then through a rate-limit window (a limit
// per period, answered 429 with Retry-After and RateLimit-Reset once used
// up). Promises: no request before a Retry-After elapsed, and the records as
// right as without throttling.
func TestThrottling(t *testing.T) {
	mgr := startManager(t, "manager", nil)
	s := newStream(t, "throttle", params.Deployments, mgr)
	half := params.ThrottleRollouts / 2

	// Storms, with a pause as long as Retry-After between them.
	stormsStart := time.Now()
	stormsLength := time.Duration(params.Storms) * (params.Storm + params.RetryAfter)
	var wg sync.WaitGroup
	wg.Go(func() { s.run(t.Context(), half, stormsLength) })
	for range params.Storms {
		from := time.Now()
		gitLab.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultThrottle, From: from, Until: from.Add(params.Storm),
			RetryAfter: gitlabtest.Duration(params.RetryAfter)})
		sleepUntil(t.Context(), from.Add(params.Storm+params.RetryAfter))
	}
	wg.Wait()
	gitLab.ClearFaults()
	stormsEnd := time.Now()
	stormVerdict, stormCatchUp := settle(t, s.oracle, s.project, stormsEnd)

	// A rate-limit window.
	windowStart := time.Now()
	gitLab.SetRateLimit(gitlabtest.RateLimit{Limit: params.RateLimit, Period: gitlabtest.Duration(params.RatePeriod)})
	runFor(t.Context(), s, params.ThrottleRollouts-half, params.RateWindow)
	gitLab.SetRateLimit(gitlabtest.RateLimit{})
	windowEnd := time.Now()
	v, windowCatchUp := settle(t, s.oracle, s.project, windowEnd)

	stormReqs := requests("", stormsStart, stormsEnd, nil)
	windowReqs := requests("", windowStart, windowEnd, nil)
	stormEarly := earlyRequests(stormReqs, params.RatePeriod)
	windowEarly := earlyRequests(windowReqs, params.RatePeriod)
	rows := s.kindRows()
	rows = append(rows, [][2]string{
		{"storms: 429 answers / requests", fmt.Sprintf("%d / %d", count429(stormReqs), len(stormReqs))},
		{"storms: requests sent before Retry-After elapsed", fmt.Sprint(len(stormEarly))},
		{"storms: time to catch up after the last storm", catchUpString(stormVerdict, stormCatchUp)},
		{"rate-limit window: 429 answers / requests", fmt.Sprintf("%d / %d", count429(windowReqs), len(windowReqs))},
		{"rate-limit window: requests sent before Retry-After / RateLimit-Reset", fmt.Sprint(len(windowEarly))},
		{"rate-limit window: time to catch up after it", catchUpString(v, windowCatchUp)},
	}...)
	logTable(t, "Throttling: "+t.Name(), append(rows, verdictRows(v)...))
	for _, early := range []struct {
		what string
		reqs []string
	}{{"during the storms", stormEarly}, {"during the rate-limit window", windowEarly}} {
		if len(early.reqs) > 0 {
			t.Errorf("%d requests %s were sent before the Retry-After of a 429 elapsed (want 0):\n\t%s",
				len(early.reqs), early.what, strings.Join(early.reqs, "\n\t"))
		}
	}
	assertVerdict(t, v)
}

// runFor runs n rollouts of s over duration and returns once both passed.
func runFor(ctx context.Context, s *stream, n int, duration time.Duration) {
	end := time.Now().Add(duration)
	s.run(ctx, n, duration)
	sleepUntil(ctx, end)
}

func count429(reqs []gitlabtest.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// earlyRequests lists the requests received after a 429 (plus inFlight)
// but before the wait it asked for ended. A storm's 429 asks for the fault's
// Retry-After; a rate limit's asks for the end of its window (period), which
// Retry-After gives rounded to the second and RateLimit-Reset exactly; the
// earlier of the two counts. Every request of the suite's manager uses one
// token, which GitLab throttles as one client.
func earlyRequests(reqs []gitlabtest.Request, period time.Duration) []string {
	var out []string
	var until time.Time
	var cause gitlabtest.Request
	for _, r := range reqs {
		if r.Time.After(cause.Time.Add(inFlight)) && r.Time.Before(until) {
			out = append(out, fmt.Sprintf("%s %s %s (%v after the 429 at %s, which asked to wait until %s)",
				r.Time.Format("15:04:05.000"), r.Method, r.Path, r.Time.Sub(cause.Time).Round(time.Millisecond),
				cause.Time.Format("15:04:05.000"), until.Format("15:04:05.000")))
		}
		if r.Status != http.StatusTooManyRequests {
			continue
		}
		wait := waitAsked(r, period)
		if end := r.Time.Add(wait); end.After(until) {
			until, cause = end, r
		}
	}
	return out
}

// waitAsked is how long a 429 asked the client to wait.
func waitAsked(r gitlabtest.Request, period time.Duration) time.Duration {
	if strings.Contains(r.Fault, string(gitlabtest.FaultThrottle)) {
		return params.RetryAfter.Round(time.Second)
	}
	window := r.Time.UnixNano() / int64(period)
	reset := time.Unix(0, (window+1)*int64(period)).Sub(r.Time)
	rounded := time.Duration(math.Round(reset.Seconds())) * time.Second
	return min(reset, rounded)
}
