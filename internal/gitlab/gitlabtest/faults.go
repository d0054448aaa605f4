package gitlabtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"
)

// FaultKind is what a fault does to a matching request.
type FaultKind string

// Fault kinds.
const (
	// FaultLatency delays the request, then serves it normally.
	FaultLatency FaultKind = "latency"
	// FaultError answers with an error status (5xx by default) without
	// touching state.
	FaultError FaultKind = "error"
	// FaultDrop hijacks the connection and closes it without a response.
	FaultDrop FaultKind = "drop"
	// FaultLoseAnswer serves the request, changing state as usual, then
	// closes the connection without sending the response: the client
	// cannot tell whether its request took effect.
	FaultLoseAnswer FaultKind = "lose-answer"
	// FaultThrottle answers as Rack::Attack does when throttling: 429,
	// text/plain "Retry later\n" and the RateLimit-* headers.
	FaultThrottle FaultKind = "throttle"
)

// Fault injects a failure into matching REST requests. Empty matchers match
// everything.
type Fault struct {
	// ID identifies the fault; AddFault assigns one when empty.
	ID   string    `json:"id,omitempty"`
	Kind FaultKind `json:"kind"`
	// Method matches the HTTP method, e.g. "POST".
	Method string `json:"method,omitempty"`
	// Endpoint matches an endpoint name such as EndpointCreate.
	Endpoint string `json:"endpoint,omitempty"`
	// Path is a path.Match pattern over the escaped path below /api/v4,
	// e.g. "/projects/*/deployments/*".
	Path string `json:"path,omitempty"`
	// Probability is the share of matching requests affected, 0 < p ≤ 1;
	// 0 means every request.
	Probability float64 `json:"probability,omitempty"`
	// Count limits how many requests the fault affects; 0 is unlimited.
	Count int `json:"count,omitempty"`
	// From and Until bound the fault in clock time; zero is unbounded.
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Status is the status of an error fault; default 500.
	Status int `json:"status,omitempty"`
	// Body replaces the default JSON body of an error fault.
	Body string `json:"body,omitempty"`
	// Latency is the delay of a latency fault.
	Latency Duration `json:"latency,omitempty"`
	// RetryAfter is the throttle window left, for the 429 headers;
	// default 60s.
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Limit is the RateLimit-Limit a throttle fault reports; default 600.
	Limit int `json:"limit,omitempty"`

	hits int
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON accepts "250ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	*d = Duration(n)
	return nil
}

type faultSet struct {
	mu     sync.Mutex
	seq    int
	faults []*Fault
}

func newFaultSet() *faultSet { return &faultSet{} }

// AddFault installs a fault and returns its ID.
func (f *Fake) AddFault(ft Fault) string {
	fs := f.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.seq++
	if ft.ID == "" {
		ft.ID = "fault-" + strconv.Itoa(fs.seq)
	}
	ft.hits = 0
	fs.faults = append(fs.faults, &ft)
	return ft.ID
}

// RemoveFault removes the fault with the given ID.
func (f *Fake) RemoveFault(id string) bool {
	fs := f.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, ft := range fs.faults {
		if ft.ID == id {
			fs.faults = append(fs.faults[:i], fs.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every fault.
func (f *Fake) ClearFaults() {
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	f.faults.faults = nil
}

// Faults returns the installed faults.
func (f *Fake) Faults() []Fault {
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	out := make([]Fault, 0, len(f.faults.faults))
	for _, ft := range f.faults.faults {
		out = append(out, *ft)
	}
	return out
}

// matching returns the faults that fire for this request, counting hits.
func (fs *faultSet) matching(method, apiPath, endpoint string, now time.Time) []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []Fault
	for _, ft := range fs.faults {
		if !ft.matches(method, apiPath, endpoint, now) {
			continue
		}
		//nolint:gosec // fault sampling is not security relevant
		if ft.Probability > 0 && ft.Probability < 1 && rand.Float64() >= ft.Probability {
			continue
		}
		ft.hits++
		out = append(out, *ft)
	}
	return out
}

func (ft *Fault) matches(method, apiPath, endpoint string, now time.Time) bool {
	if ft.Method != "" && ft.Method != method || ft.Endpoint != "" && ft.Endpoint != endpoint {
		return false
	}
	if ft.Path != "" {
		if ok, err := path.Match(ft.Path, apiPath); err != nil || !ok {
			return false
		}
	}
	if !ft.From.IsZero() && now.Before(ft.From) || !ft.Until.IsZero() && !now.Before(ft.Until) {
		return false
	}
	return ft.Count == 0 || ft.hits < ft.Count
}

// applyFaults runs the matching faults; it reports whether the request
// was answered (or dropped) and its status. beforeDrop runs before a
// connection is dropped.
func (f *Fake) applyFaults(w http.ResponseWriter, r *http.Request, faults []Fault, beforeDrop func(status int)) (bool, int) {
	for _, ft := range faults {
		if ft.Kind == FaultLatency {
			select {
			case <-time.After(time.Duration(ft.Latency)):
			case <-r.Context().Done():
				return true, 0
			}
		}
	}
	for _, ft := range faults {
		switch ft.Kind {
		case FaultDrop:
			beforeDrop(0)
			dropConnection(w)
			return true, 0
		case FaultError:
			return true, writeFaultError(w, ft)
		case FaultThrottle:
			limit := ft.Limit
			if limit == 0 {
				limit = 600
			}
			retry := time.Duration(ft.RetryAfter)
			if retry <= 0 {
				retry = time.Minute
			}
			now := f.clock.Now()
			writeThrottled(w, "throttle_authenticated_api", limit, limit+1, now.Add(retry), now)
			return true, http.StatusTooManyRequests
		}
	}
	return false, 0
}

func writeFaultError(w http.ResponseWriter, ft Fault) int {
	status := ft.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if ft.Body != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(ft.Body))
		return status
	}
	writeJSON(w, status, map[string]string{keyMessage: strconv.Itoa(status) + " " + http.StatusText(status)})
	return status
}

// dropConnection closes the client connection without a response.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
