package gitlabtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// JSON keys and values used across handlers.
const (
	keyError                = "error"
	keyMessage              = "message"
	sortDesc                = "desc"
	sortAsc                 = "asc"
	orderByCreated          = "created_at"
	orderByUpdated          = "updated_at"
	orderByFinished         = "finished_at"
	scopeAPI                = "api"
	mrMerged                = "merged"
	mrClosed                = "closed"
	mrAll                   = "all"
	policyReadDeployments   = "read_deployments"
	policyAdminDeployments  = "admin_deployments"
	policyReadEnvironments  = "read_environments"
	policyAdminEnvironments = "admin_environments"
)

// timeFormat is how Grape entities render timestamps.
const timeFormat = "2006-01-02T15:04:05.000Z"

// apiTime renders a time as GitLab does, or null when zero.
type apiTime time.Time

// MarshalJSON implements json.Marshaler.
func (t apiTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(strconv.Quote(tt.UTC().Format(timeFormat))), nil
}

// apiError is a response GitLab renders for a failed request.
type apiError struct {
	status  int
	body    any
	headers map[string]string
}

func (e *apiError) Error() string {
	b, err := json.Marshal(e.body)
	if err != nil {
		return strconv.Itoa(e.status)
	}
	return strconv.Itoa(e.status) + " " + string(b)
}

// messageError is render_api_error!(msg, status): {"message": msg}.
func messageError(status int, msg any) *apiError {
	return &apiError{status: status, body: map[string]any{keyMessage: msg}}
}

// grapeError is a Grape validation failure: 400 {"error": msg}.
func grapeError(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: map[string]any{keyError: msg}}
}

func unauthorized() *apiError { return messageError(http.StatusUnauthorized, "401 Unauthorized") }

func forbidden(reason string) *apiError {
	if reason == "" {
		return messageError(http.StatusForbidden, "403 Forbidden")
	}
	return messageError(http.StatusForbidden, "403 Forbidden - "+reason)
}

func badRequest(reason string) *apiError {
	return messageError(http.StatusBadRequest, "400 Bad request - "+reason)
}

func projectNotFound() *apiError { return messageError(http.StatusNotFound, "404 Project Not Found") }

// recordNotFound is what ActiveRecord::RecordNotFound renders.
func recordNotFound() *apiError { return messageError(http.StatusNotFound, "404 Not found") }

// validationError is render_validation_error!: {"message": {attr: [msgs]}}.
func validationError(attr string, msgs ...string) *apiError {
	return messageError(http.StatusBadRequest, map[string][]string{attr: msgs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	for k, v := range e.headers {
		w.Header().Set(k, v)
	}
	writeJSON(w, e.status, e.body)
}
