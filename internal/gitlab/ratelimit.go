package gitlab

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"
)

// maxRetryAfter caps how long a single 429 may pause a host, guarding
// against a bogus header.
const maxRetryAfter = 15 * time.Minute

// hostGate paces all requests to one GitLab host, across every client and
// worker using it: a token bucket (the client-side rate limit) and a
// "blocked until" time set by a 429. It implements the SDK's RateLimiter.
type hostGate struct {
	clock   clock.Clock
	maxWait time.Duration
	limiter *rate.Limiter // nil: no client-side limit

	mu           sync.Mutex
	blockedUntil time.Time
}

// newHostGate returns a gate allowing qps requests per second with the
// given burst; qps < 0 disables the client-side limit.
func newHostGate(clk clock.Clock, qps float64, burst int, maxWait time.Duration) *hostGate {
	g := &hostGate{clock: clk, maxWait: maxWait}
	if qps >= 0 {
		g.limiter = rate.NewLimiter(rate.Limit(qps), max(burst, 1))
	}
	return g
}

// Wait blocks until a request may be sent. If the host is paused by a 429
// for longer than the gate's maximum wait, or the caller's deadline is too
// close, it returns a *rateLimitedError at once instead.
func (g *hostGate) Wait(ctx context.Context) error {
	if err := g.waitUnblocked(ctx); err != nil {
		return err
	}
	return g.waitToken(ctx)
}

// block pauses the host for d, unless it is already paused for longer.
func (g *hostGate) block(d time.Duration) {
	until := g.clock.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.blockedUntil) {
		g.blockedUntil = until
	}
}

// remaining returns how long the host stays paused.
func (g *hostGate) remaining() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blockedUntil.Sub(g.clock.Now())
}

// waitUnblocked waits out a short 429 pause and refuses a long one.
func (g *hostGate) waitUnblocked(ctx context.Context) error {
	for {
		d := g.remaining()
		if d <= 0 {
			return nil
		}
		if d > g.maxWait || exceedsDeadline(ctx, d) {
			return &rateLimitedError{retryAfter: d, server: true}
		}
		if err := g.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// waitToken takes one token from the bucket, waiting for it if needed.
func (g *hostGate) waitToken(ctx context.Context) error {
	if g.limiter == nil {
		return nil
	}
	now := g.clock.Now()
	r := g.limiter.ReserveN(now, 1)
	if !r.OK() {
		return &rateLimitedError{retryAfter: time.Second}
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if exceedsDeadline(ctx, d) {
		r.CancelAt(now)
		return &rateLimitedError{retryAfter: d}
	}
	if err := g.sleep(ctx, d); err != nil {
		r.CancelAt(g.clock.Now())
		return err
	}
	return nil
}

// sleep waits for d on the gate's clock, or until ctx ends.
func (g *hostGate) sleep(ctx context.Context, d time.Duration) error {
	t := g.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// exceedsDeadline reports whether waiting d passes ctx's deadline, which
// is wall-clock time whatever the gate's clock.
func exceedsDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < d
}

// rateLimitedError is returned by hostGate.Wait when a request is not sent
// because of rate limiting.
type rateLimitedError struct {
	retryAfter time.Duration
	server     bool // paused by GitLab's 429, not by the client-side limit
}

func (e *rateLimitedError) Error() string {
	if e.server {
		return "request not sent: GitLab rate-limited this host (429)"
	}
	return "request not sent: client-side rate limit for this host"
}

// retryAfterFrom reads how long to wait from a response's Retry-After
// (seconds or HTTP date) or, failing that, RateLimit-Reset (Unix seconds).
// The result is capped at maxRetryAfter.
func retryAfterFrom(h http.Header, now time.Time) (time.Duration, bool) {
	d, ok := parseRetryAfter(h.Get("Retry-After"), now)
	if !ok {
		d, ok = parseResetTime(h.Get("RateLimit-Reset"), now)
	}
	if !ok {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}

func parseResetTime(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs <= 0 {
		return 0, false
	}
	return time.Unix(secs, 0).Sub(now), true
}
