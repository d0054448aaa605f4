package gitlabtest

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Request is one entry of the request log.
type Request struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Query    string `json:"query,omitempty"`
	Endpoint string `json:"endpoint"`
	// Status is the response status; 0 for a dropped connection.
	Status int `json:"status"`
	// Fault names the kinds of faults applied, comma-separated.
	Fault    string        `json:"fault,omitempty"`
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration"`
}

// EndpointCount is how many requests an endpoint answered with a status.
type EndpointCount struct {
	Endpoint string `json:"endpoint"`
	Status   int    `json:"status"`
	Count    int    `json:"count"`
}

type requestLog struct {
	mu      sync.Mutex
	entries []Request
}

// Requests returns the request log, oldest first.
func (f *Fake) Requests() []Request {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	return append([]Request(nil), f.log.entries...)
}

// RequestCounts returns the number of requests per endpoint and status,
// sorted by endpoint then status.
func (f *Fake) RequestCounts() []EndpointCount {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	counts := map[EndpointCount]int{}
	for _, e := range f.log.entries {
		counts[EndpointCount{Endpoint: e.Endpoint, Status: e.Status}]++
	}
	out := make([]EndpointCount, 0, len(counts))
	for k, n := range counts {
		k.Count = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b EndpointCount) int {
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c
		}
		return cmp.Compare(a.Status, b.Status)
	})
	return out
}

// CountRequests returns how many requests hit an endpoint, with any status
// when status is 0.
func (f *Fake) CountRequests(endpoint string, status int) int {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	n := 0
	for _, e := range f.log.entries {
		if e.Endpoint == endpoint && (status == 0 || e.Status == status) {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log.
func (f *Fake) ResetRequests() {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	f.log.entries = nil
}

// statusRecorder captures the status a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// serveLoggedAPI applies faults and rate limits, serves the request and
// records it.
func (f *Fake) serveLoggedAPI(w http.ResponseWriter, r *http.Request, apiPath string) {
	start := time.Now()
	rt := matchRoute(r.Method, apiPath)
	entry := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Endpoint: rt.endpoint, Time: f.clock.Now()}
	rec := &statusRecorder{ResponseWriter: w}
	faults := f.faults.matching(r.Method, apiPath, rt.endpoint, entry.Time)
	kinds := make([]string, 0, len(faults))
	for _, ft := range faults {
		kinds = append(kinds, string(ft.Kind))
	}
	entry.Fault = strings.Join(kinds, ",")
	logged := false
	logEntry := func() {
		if logged {
			return
		}
		logged = true
		entry.Duration = time.Since(start)
		f.log.mu.Lock()
		f.log.entries = append(f.log.entries, entry)
		f.log.mu.Unlock()
	}
	defer logEntry()
	if handled, status := f.applyFaults(w, r, faults, func(status int) { entry.Status = status; logEntry() }); handled {
		entry.Status = status
		return
	}
	if f.checkRateLimit(w, r) {
		entry.Status = http.StatusTooManyRequests
		return
	}
	if losesAnswer(faults) {
		lost := httptest.NewRecorder()
		f.serveAPI(lost, r, rt)
		entry.Status = lost.Code
		// Logged before the connection drops, so that whoever sees the
		// connection end also finds the request in the log.
		logEntry()
		dropConnection(w)
		return
	}
	f.serveAPI(rec, r, rt)
	entry.Status = rec.status
}

func losesAnswer(faults []Fault) bool {
	for _, ft := range faults {
		if ft.Kind == FaultLoseAnswer {
			return true
		}
	}
	return false
}
