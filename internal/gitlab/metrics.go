package gitlab

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metric names.
const (
	// MetricRequestsTotal counts HTTP requests sent to GitLab, each retry
	// included, by endpoint template, method and status code ("error"
	// when no response was received).
	MetricRequestsTotal = "rollgate_gitlab_requests_total"
	// MetricRequestDuration observes the latency of each HTTP request to
	// GitLab, by endpoint template and method.
	MetricRequestDuration = "rollgate_gitlab_request_duration_seconds"
)

// endpointOther labels requests to routes outside the known templates.
const endpointOther = "other"

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequestsTotal,
		Help: "HTTP requests sent to GitLab, retries included, by endpoint template, method and status code.",
	}, []string{"endpoint", "method", "code"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRequestDuration,
		Help:    "Latency of HTTP requests to GitLab, by endpoint template and method.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint", "method"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(requestsTotal, requestDuration)
}

// routeTemplates are the API routes rollgate calls, below /api/v4; a
// segment starting with ':' matches any value.
var routeTemplates = []string{
	"/projects/:id/deployments",
	"/projects/:id/deployments/:deployment_id",
	"/projects/:id/deployments/:deployment_id/approval",
	"/projects/:id/deployments/:deployment_id/merge_requests",
	"/projects/:id/environments",
	"/projects/:id/environments/:environment_id",
	"/projects/:id/cluster_agents",
	"/projects/:id/cluster_agents/:agent_id",
	"/projects/:id",
	"/version",
	"/user",
}

// endpointOf turns an escaped request path into its route template, e.g.
// /api/v4/projects/group%2Fapp/deployments/7 into
// /projects/:id/deployments/:deployment_id. Unknown routes become "other",
// so no raw ID, path or secret ever becomes a label value.
func endpointOf(escapedPath string) string {
	_, rest, ok := strings.Cut(escapedPath, "/api/v4/")
	if !ok {
		return endpointOther
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, tmpl := range routeTemplates {
		if matchRoute(strings.Split(tmpl[1:], "/"), segs) {
			return tmpl
		}
	}
	return endpointOther
}

func matchRoute(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		if segs[i] == "" || (!strings.HasPrefix(t, ":") && t != segs[i]) {
			return false
		}
	}
	return true
}

// observeRequest records one HTTP attempt.
func observeRequest(req *http.Request, resp *http.Response, took time.Duration) {
	endpoint := endpointOf(req.URL.EscapedPath())
	method := methodLabel(req.Method)
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	requestsTotal.WithLabelValues(endpoint, method, code).Inc()
	requestDuration.WithLabelValues(endpoint, method).Observe(took.Seconds())
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodHead, http.MethodOptions:
		return m
	default:
		return "other"
	}
}
