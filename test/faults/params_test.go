package faults

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// suiteParams are the sizes of the suite, read from the environment. The
// defaults are the full suite (`make test-faults`); `make test-faults-short`
// sets smaller ones.
type suiteParams struct {
	// Deployments is how many Deployments each stream rolls out
	// (FAULTS_DEPLOYMENTS).
	Deployments int
	// CrashRollouts is how many rollouts the crash test runs
	// (FAULTS_CRASH_ROLLOUTS) while the manager is killed Kills times
	// (FAULTS_KILLS), up MinUp to MaxUp between kills (FAULTS_MIN_UP,
	// FAULTS_MAX_UP).
	CrashRollouts int
	Kills         int
	MinUp, MaxUp  time.Duration
	// OutageRollouts rollouts run while GitLab answers 503 for Outage, then
	// as many while it drops connections for Outage (FAULTS_OUTAGE_ROLLOUTS,
	// FAULTS_OUTAGE).
	OutageRollouts int
	Outage         time.Duration
	// ThrottleRollouts run during Storms 429 storms of Storm each, answered
	// with Retry-After RetryAfter, then during a rate-limit window of
	// RateLimit requests per RatePeriod lasting RateWindow
	// (FAULTS_THROTTLE_ROLLOUTS, FAULTS_STORMS, FAULTS_STORM,
	// FAULTS_RETRY_AFTER, FAULTS_RATE_LIMIT, FAULTS_RATE_PERIOD,
	// FAULTS_RATE_WINDOW).
	ThrottleRollouts int
	Storms           int
	Storm            time.Duration
	RetryAfter       time.Duration
	RateLimit        int
	RatePeriod       time.Duration
	RateWindow       time.Duration
	// LostRollouts run while half the POST and PUT answers are lost
	// (FAULTS_LOST_ROLLOUTS), over LostDuration (FAULTS_LOST_DURATION).
	LostRollouts int
	LostDuration time.Duration
	// Takeovers is how many times the leader of two managers is killed
	// (FAULTS_TAKEOVERS).
	Takeovers int
	// Settle bounds the wait for rollgate to catch up once faults end
	// (FAULTS_SETTLE); it stops waiting early once the records are right,
	// or once nothing was written to GitLab nor changed for Quiet
	// (FAULTS_QUIET).
	Settle time.Duration
	Quiet  time.Duration
	// BadInputWait bounds the wait for rollgate to explain each bad input
	// (FAULTS_BAD_INPUT_WAIT).
	BadInputWait time.Duration
}

func loadParams() suiteParams {
	return suiteParams{
		Deployments:      envInt("FAULTS_DEPLOYMENTS", 20),
		CrashRollouts:    envInt("FAULTS_CRASH_ROLLOUTS", 200),
		Kills:            envInt("FAULTS_KILLS", 24),
		MinUp:            envDuration("FAULTS_MIN_UP", 4*time.Second),
		MaxUp:            envDuration("FAULTS_MAX_UP", 10*time.Second),
		OutageRollouts:   envInt("FAULTS_OUTAGE_ROLLOUTS", 100),
		Outage:           envDuration("FAULTS_OUTAGE", time.Minute),
		ThrottleRollouts: envInt("FAULTS_THROTTLE_ROLLOUTS", 60),
		Storms:           envInt("FAULTS_STORMS", 3),
		Storm:            envDuration("FAULTS_STORM", 20*time.Second),
		RetryAfter:       envDuration("FAULTS_RETRY_AFTER", 5*time.Second),
		RateLimit:        envInt("FAULTS_RATE_LIMIT", 5),
		RatePeriod:       envDuration("FAULTS_RATE_PERIOD", 10*time.Second),
		RateWindow:       envDuration("FAULTS_RATE_WINDOW", 40*time.Second),
		LostRollouts:     envInt("FAULTS_LOST_ROLLOUTS", 100),
		LostDuration:     envDuration("FAULTS_LOST_DURATION", 90*time.Second),
		Takeovers:        envInt("FAULTS_TAKEOVERS", 10),
		Settle:           envDuration("FAULTS_SETTLE", 4*time.Minute),
		Quiet:            envDuration("FAULTS_QUIET", 30*time.Second),
		BadInputWait:     envDuration("FAULTS_BAD_INPUT_WAIT", 30*time.Second),
	}
}

func (p suiteParams) String() string {
	return fmt.Sprintf("%d Deployments; crash: %d rollouts, %d kills (up %v-%v); outage: %d rollouts, %v each; "+
		"throttle: %d rollouts, %d storms of %v (Retry-After %v), %d req/%v for %v; lost answers: %d rollouts in %v; "+
		"takeovers: %d; settle ≤ %v (quiet %v); bad input wait %v",
		p.Deployments, p.CrashRollouts, p.Kills, p.MinUp, p.MaxUp, p.OutageRollouts, p.Outage,
		p.ThrottleRollouts, p.Storms, p.Storm, p.RetryAfter, p.RateLimit, p.RatePeriod, p.RateWindow,
		p.LostRollouts, p.LostDuration, p.Takeovers, p.Settle, p.Quiet, p.BadInputWait)
}

func envInt(key string, def int) int {
	v, ok := os.LookupEnv(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		panic(fmt.Sprintf("%s=%q is not a non-negative integer", key, v))
	}
	return n
}

func envDuration(key string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(key)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		panic(fmt.Sprintf("%s=%q is not a duration such as 30s", key, v))
	}
	return d
}
