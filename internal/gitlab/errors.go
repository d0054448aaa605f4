package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Class says what a caller should do about an error.
type Class int

const (
	// Transient errors go away by themselves: 5xx, 408, 429, network
	// failures and timeouts. Retry with back-off, or after RetryAfter when
	// it is set.
	Transient Class = iota
	// Terminal errors need a change by a human: a bad sha, ref or
	// environment name (400), a project that does not exist or cannot be
	// seen (404), a forbidden action (403), any other 4xx, a malformed
	// response, or an unusable credentials url or CA bundle. Do not retry
	// until the input changes.
	Terminal
	// InvalidCredentials errors mean the token itself is rejected: 401
	// (unknown, expired or revoked token), a 403 for a token whose scope is
	// too small, or an empty token. Fix the credentials Secret.
	InvalidCredentials
)

// String returns the class name.
func (c Class) String() string {
	switch c {
	case Transient:
		return "Transient"
	case Terminal:
		return "Terminal"
	case InvalidCredentials:
		return "InvalidCredentials"
	default:
		return "Class(" + strconv.Itoa(int(c)) + ")"
	}
}

// maxMessageLen bounds the GitLab message kept in an Error.
const maxMessageLen = 512

// Error is the only error type the Client returns. Its text never holds a
// token or a request URL.
type Error struct {
	// Class says what to do next.
	Class Class
	// Op names the call that failed, e.g. "create deployment".
	Op string
	// StatusCode is the HTTP status GitLab answered, or 0 if no response
	// was received.
	StatusCode int
	// Message is GitLab's error message, flattened and sanitised, e.g.
	// "ref: The branch or tag does not exist"; or the network failure.
	Message string
	// RetryAfter is how long to wait before the next request to this
	// host, when GitLab said so (429, or a 503 with Retry-After).
	RetryAfter time.Duration

	cause error
}

// Error formats the error as "gitlab <op>: <status> <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gitlab ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	code := strconv.Itoa(e.StatusCode)
	switch {
	case e.StatusCode == 0:
		b.WriteString(e.Message)
	case e.Message == "":
		b.WriteString(code + " " + http.StatusText(e.StatusCode))
	case strings.HasPrefix(e.Message, code+" "):
		b.WriteString(e.Message)
	default:
		b.WriteString(code + " " + http.StatusText(e.StatusCode) + ": " + e.Message)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// Unwrap returns the underlying cause for errors without an HTTP status,
// such as context.Canceled or a *net.OpError; nil otherwise.
func (e *Error) Unwrap() error { return e.cause }

// ClassOf returns the class of err. Errors that did not come from this
// package are Transient.
func ClassOf(err error) Class {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Class
	}
	return Transient
}

// RetryAfter returns how long GitLab asked the caller to wait, or 0.
func RetryAfter(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}

// StatusCode returns the HTTP status of err, or 0 if there was none.
func StatusCode(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports a 404: the project does not exist or is not visible
// to the token, or the deployment does not exist in the project.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsProjectNotFound reports GitLab's "404 Project Not Found": the project
// does not exist or the token cannot see it.
func IsProjectNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.StatusCode == http.StatusNotFound &&
		strings.Contains(e.Message, "Project Not Found")
}

// IsConflictingTransition reports GitLab's 400 "cannot transition via ...":
// the deployment's current status does not allow the requested one, often
// because it already has it.
func IsConflictingTransition(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.StatusCode == http.StatusBadRequest &&
		strings.Contains(e.Message, "cannot transition via")
}

// classForStatus maps an HTTP error status (and GitLab's body) to a Class.
func classForStatus(status int, body []byte) Class {
	switch {
	case status == http.StatusUnauthorized:
		return InvalidCredentials
	case status == http.StatusForbidden && insufficientScope(body):
		return InvalidCredentials
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return Transient
	case status >= 500 && status != http.StatusNotImplemented:
		return Transient
	default:
		return Terminal
	}
}

// insufficientScope reports GitLab's 403 for a token lacking the api scope.
func insufficientScope(body []byte) bool {
	var b struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(body, &b) == nil && b.Error == "insufficient_scope"
}

// newStatusError builds the error for an HTTP error response.
func newStatusError(op string, status int, body []byte, retryAfter time.Duration, redact func(string) string) *Error {
	msg := gitlabMessage(body)
	if status >= 300 && status < 400 {
		msg = "GitLab redirected the request; set the credentials url to the final address of the GitLab instance"
	}
	return &Error{
		Class:      classForStatus(status, body),
		Op:         op,
		StatusCode: status,
		Message:    sanitize(msg, redact),
		RetryAfter: retryAfter,
	}
}

// gitlabMessage flattens GitLab's error body: {"message": ...} in any of its
// shapes, {"error": ..., "error_description": ...}, or plain text.
func gitlabMessage(body []byte) string {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		text := strings.TrimSpace(string(body))
		if strings.HasPrefix(text, "<") {
			return "" // an HTML error page from a proxy says no more than its status
		}
		line, _, _ := strings.Cut(text, "\n")
		return line
	}
	if m, ok := raw["message"]; ok {
		return flatten(m)
	}
	e, _ := raw["error"].(string)
	if d, _ := raw["error_description"].(string); d != "" {
		if e == "" {
			return d
		}
		return e + ": " + d
	}
	return e
}

// flatten renders a GitLab message value: a string, a list of messages, or
// a map of attribute to messages (sorted by attribute).
func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, item := range v {
			parts = append(parts, flatten(item))
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+": "+flatten(v[k]))
		}
		return strings.Join(parts, "; ")
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// sanitize removes secrets and control characters and bounds the length.
func sanitize(s string, redact func(string) string) string {
	if redact != nil {
		s = redact(s)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxMessageLen {
		s = string(r[:maxMessageLen]) + "…"
	}
	return s
}

// newRedactor returns a function that replaces every occurrence of the
// given secrets with a placeholder.
func newRedactor(secrets ...string) func(string) string {
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}
