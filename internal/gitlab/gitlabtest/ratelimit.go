package gitlabtest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit configures a Rack::Attack-style throttle on the REST API.
type RateLimit struct {
	// Name is the throttle's name; default "throttle_authenticated_api".
	Name string `json:"name,omitempty"`
	// Limit is the number of requests allowed per Period per client.
	Limit int `json:"limit"`
	// Period is the throttle window; default 60s. Windows are aligned to
	// the Unix epoch, as Rack::Attack aligns them.
	Period Duration `json:"period,omitempty"`
}

type rateLimiter struct {
	mu     sync.Mutex
	cfg    *RateLimit
	window int64
	counts map[string]int
}

// SetRateLimit enables a throttle; a Limit of 0 disables it. Requests are
// counted per credential (token), or per client address when anonymous.
func (f *Fake) SetRateLimit(rl RateLimit) {
	l := f.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	if rl.Limit <= 0 {
		l.cfg = nil
		return
	}
	if rl.Name == "" {
		rl.Name = "throttle_authenticated_api"
	}
	if rl.Period <= 0 {
		rl.Period = Duration(time.Minute)
	}
	l.cfg, l.counts = &rl, map[string]int{}
}

// RateLimit returns the current throttle, if any.
func (f *Fake) RateLimit() (RateLimit, bool) {
	f.limiter.mu.Lock()
	defer f.limiter.mu.Unlock()
	if f.limiter.cfg == nil {
		return RateLimit{}, false
	}
	return *f.limiter.cfg, true
}

// check counts the request and answers 429 when over the limit.
func (f *Fake) checkRateLimit(w http.ResponseWriter, r *http.Request) bool {
	l := f.limiter
	l.mu.Lock()
	cfg := l.cfg
	if cfg == nil {
		l.mu.Unlock()
		return false
	}
	now := f.clock.Now()
	period := time.Duration(cfg.Period)
	window := now.UnixNano() / int64(period)
	if window != l.window {
		l.window, l.counts = window, map[string]int{}
	}
	key := clientKey(r)
	l.counts[key]++
	observed := l.counts[key]
	l.mu.Unlock()
	if observed <= cfg.Limit {
		return false
	}
	reset := time.Unix(0, (window+1)*int64(period))
	perMinute := (cfg.Limit*int(time.Minute) + int(period) - 1) / int(period)
	writeThrottled(w, cfg.Name, perMinute, observed, reset, now)
	return true
}

func clientKey(r *http.Request) string {
	for _, h := range []string{"Private-Token", "Authorization", "Job-Token"} {
		if v := r.Header.Get(h); v != "" {
			return h + ":" + v
		}
	}
	q := r.URL.Query()
	for _, k := range []string{"private_token", "job_token"} {
		if v := q.Get(k); v != "" {
			return k + ":" + v
		}
	}
	host := r.RemoteAddr
	if i := lastColon(host); i > 0 {
		host = host[:i]
	}
	return "ip:" + host
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

// writeThrottled writes Rack::Attack's throttled response.
func writeThrottled(w http.ResponseWriter, name string, limit, observed int, reset, now time.Time) {
	h := w.Header()
	retry := int(reset.Sub(now).Round(time.Second) / time.Second)
	h.Set("RateLimit-Name", name)
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Observed", strconv.Itoa(observed))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(limit-observed, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	h.Set("Retry-After", strconv.Itoa(max(retry, 0)))
	h.Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("Retry later\n"))
}
