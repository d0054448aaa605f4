package gitlab

import (
	"context"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestEndpointOf(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/api/v4/projects/42/deployments", "/projects/:id/deployments"},
		{"/api/v4/projects/group%2Fapp/deployments", "/projects/:id/deployments"},
		{"/api/v4/projects/group%2Fsub%2Fapp/deployments/17", "/projects/:id/deployments/:deployment_id"},
		{"/api/v4/projects/42/deployments/17/approval", "/projects/:id/deployments/:deployment_id/approval"},
		{"/gitlab/api/v4/projects/42/deployments/17/", "/projects/:id/deployments/:deployment_id"},
		{"/api/v4/projects/42", "/projects/:id"},
		{"/api/v4/version", "/version"},
		{"/api/v4/projects/42/secret-" + testToken, endpointOther},
		{"/api/v4/projects//deployments", endpointOther},
		{"/users/sign_in", endpointOther},
	}
	for _, tt := range tests {
		NewWithT(t).Expect(endpointOf(tt.path)).To(Equal(tt.want), tt.path)
	}
}

func TestRequestMetrics(t *testing.T) {
	g := NewWithT(t)
	requestsTotal.Reset()
	requestDuration.Reset()
	srv := newGitLabServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.Method == http.MethodGet {
			reply(w, http.StatusBadGateway, "")
			return
		}
		reply(w, http.StatusCreated, apiDeploymentJSON)
	})
	c := newClient(t, testConfig(), srv.URL)
	ctx := context.Background()
	_, _ = c.GetDeployment(ctx, testProject, 42)
	_, err := c.CreateDeployment(ctx, testProject, CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusRunning})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("/projects/:id/deployments/:deployment_id", "GET", "502"))).
		To(Equal(3.0), "every retry is counted")
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("/projects/:id/deployments", "POST", "201"))).To(Equal(1.0))
	g.Expect(testutil.CollectAndCount(requestDuration)).To(Equal(2))

	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	seen := map[string]bool{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "rollgate_gitlab_") {
			continue
		}
		seen[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				g.Expect(l.GetValue()).NotTo(ContainSubstring(testToken))
				g.Expect(l.GetValue()).NotTo(ContainSubstring("group"), "no raw project path in labels")
				g.Expect(l.GetValue()).NotTo(ContainSubstring("42"), "no raw IDs in labels")
			}
		}
	}
	g.Expect(seen).To(HaveKey(MetricRequestsTotal))
	g.Expect(seen).To(HaveKey(MetricRequestDuration))
}
