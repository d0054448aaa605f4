package gitlabtest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// controlMux builds the router of the control API.
func (f *Fake) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	p := controlPrefix
	m.HandleFunc("POST "+p+"/seed", f.ctlSeed)
	m.HandleFunc("GET "+p+"/projects/{project}/deployments", f.ctlDeployments)
	m.HandleFunc("GET "+p+"/projects/{project}/environments", f.ctlEnvironments)
	m.HandleFunc("POST "+p+"/projects/{project}/commits", f.ctlPushCommits)
	m.HandleFunc("GET "+p+"/deployments/{id}", f.ctlDeployment)
	m.HandleFunc("POST "+p+"/jobs", f.ctlCreateJob)
	m.HandleFunc("GET "+p+"/jobs/{id}", f.ctlJob)
	m.HandleFunc("POST "+p+"/jobs/{id}/{action}", f.ctlJobAction)
	m.HandleFunc("GET "+p+"/faults", getter(func() any { return f.Faults() }))
	m.HandleFunc("POST "+p+"/faults", f.ctlAddFault)
	m.HandleFunc("DELETE "+p+"/faults", deleter(f.ClearFaults))
	m.HandleFunc("DELETE "+p+"/faults/{id}", f.ctlRemoveFault)
	m.HandleFunc("GET "+p+"/rate-limit", f.ctlGetRateLimit)
	m.HandleFunc("PUT "+p+"/rate-limit", f.ctlSetRateLimit)
	m.HandleFunc("DELETE "+p+"/rate-limit", deleter(func() { f.SetRateLimit(RateLimit{}) }))
	m.HandleFunc("GET "+p+"/requests", getter(func() any { return f.Requests() }))
	m.HandleFunc("GET "+p+"/requests/counts", getter(func() any { return f.RequestCounts() }))
	m.HandleFunc("DELETE "+p+"/requests", deleter(f.ResetRequests))
	m.HandleFunc("GET "+p+"/clock", f.ctlGetClock)
	m.HandleFunc("POST "+p+"/clock", f.ctlSetClock)
	m.HandleFunc("GET "+p+"/hooks/deliveries", getter(func() any { return f.HookDeliveries() }))
	m.HandleFunc(p+"/", func(w http.ResponseWriter, _ *http.Request) {
		ctlError(w, http.StatusNotFound, "no such control route")
	})
	return m
}

// getter serves the value read returns.
func getter(read func() any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, read()) }
}

// deleter runs act and answers 204.
func deleter(act func()) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		act()
		w.WriteHeader(http.StatusNoContent)
	}
}

// serveControl serves the control API, checking the control token.
func (f *Fake) serveControl(w http.ResponseWriter, r *http.Request) {
	got := []byte(r.Header.Get("X-Fake-Token"))
	if t := f.cfg.controlToken; t != "" && subtle.ConstantTimeCompare(got, []byte(t)) != 1 {
		ctlError(w, http.StatusUnauthorized, "missing or wrong X-Fake-Token")
		return
	}
	f.ctlOnce.Do(func() { f.ctl = f.controlMux() })
	f.ctl.ServeHTTP(w, r)
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{keyError: msg})
}

// ctlFail maps Go API errors to control API statuses.
func ctlFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		ctlError(w, http.StatusNotFound, err.Error())
	default:
		ctlError(w, http.StatusBadRequest, err.Error())
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		ctlError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (f *Fake) ctlSeed(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	s, err := ParseSeed(data)
	if err == nil {
		err = f.Seed(s)
	}
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *Fake) ctlDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := f.Deployments(r.PathValue("project"), r.URL.Query().Get("environment"))
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ds)
}

func (f *Fake) ctlEnvironments(w http.ResponseWriter, r *http.Request) {
	es, err := f.Environments(r.PathValue("project"))
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, es)
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		ctlError(w, http.StatusBadRequest, "id must be an integer")
		return 0, false
	}
	return id, true
}

func (f *Fake) ctlDeployment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	d, err := f.Deployment(id)
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (f *Fake) ctlCreateJob(w http.ResponseWriter, r *http.Request) {
	var spec JobSpec
	if !decodeBody(w, r, &spec) {
		return
	}
	j, err := f.CreateJob(spec)
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

func (f *Fake) ctlJob(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	j, err := f.Job(id)
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (f *Fake) ctlJobAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var (
		j   Job
		err error
	)
	switch r.PathValue("action") {
	case "play":
		var body struct {
			User string `json:"user"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		j, err = f.PlayJob(id, body.User)
	case "run":
		j, err = f.RunJob(id)
	case "succeed":
		j, err = f.SucceedJob(id)
	case "fail":
		j, err = f.FailJob(id)
	case "cancel":
		j, err = f.CancelJob(id)
	default:
		ctlError(w, http.StatusNotFound, "unknown job action; use play, run, succeed, fail or cancel")
		return
	}
	if err != nil {
		ctlFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (f *Fake) ctlAddFault(w http.ResponseWriter, r *http.Request) {
	var ft Fault
	if !decodeBody(w, r, &ft) {
		return
	}
	switch ft.Kind {
	case FaultLatency, FaultError, FaultDrop, FaultLoseAnswer, FaultThrottle:
	default:
		ctlError(w, http.StatusBadRequest, "kind must be latency, error, drop or throttle")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": f.AddFault(ft)})
}

func (f *Fake) ctlRemoveFault(w http.ResponseWriter, r *http.Request) {
	if !f.RemoveFault(r.PathValue("id")) {
		ctlError(w, http.StatusNotFound, "no such fault")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) ctlGetRateLimit(w http.ResponseWriter, _ *http.Request) {
	rl, ok := f.RateLimit()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "rate_limit": rl})
}

func (f *Fake) ctlSetRateLimit(w http.ResponseWriter, r *http.Request) {
	var rl RateLimit
	if !decodeBody(w, r, &rl) {
		return
	}
	f.SetRateLimit(rl)
	f.ctlGetRateLimit(w, r)
}

func (f *Fake) ctlGetClock(w http.ResponseWriter, _ *http.Request) {
	_, fake := f.clock.(*FakeClock)
	writeJSON(w, http.StatusOK, map[string]any{"now": f.clock.Now().UTC(), "fake": fake})
}

func (f *Fake) ctlSetClock(w http.ResponseWriter, r *http.Request) {
	fc, ok := f.clock.(*FakeClock)
	if !ok {
		ctlError(w, http.StatusConflict, "the server runs on the real clock; start it with a fake clock")
		return
	}
	var body struct {
		Set     time.Time `json:"set"`
		Advance Duration  `json:"advance"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !body.Set.IsZero() {
		fc.Set(body.Set)
	}
	if body.Advance != 0 {
		fc.Advance(time.Duration(body.Advance))
	}
	f.ctlGetClock(w, r)
}

// ctlPushCommits appends commits to a branch's history:
// {"branch": "main", "commits": [{"sha": "...", "title": "..."}]}.
func (f *Fake) ctlPushCommits(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Branch  string       `json:"branch"`
		Commits []CommitSpec `json:"commits"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if err := f.PushCommits(r.PathValue("project"), body.Branch, body.Commits...); err != nil {
		ctlFail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
