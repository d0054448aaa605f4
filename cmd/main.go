/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command rollgate is the operator's manager: it records every rollout of an
// annotated Deployment as a GitLab deployment and keeps its status true.
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/rollgate/rollgate/internal/operator"
)

var setupLog = ctrl.Log.WithName("setup")

// flags are the manager's command-line settings.
type flags struct {
	metricsAddr, probeAddr       string
	secureMetrics, enableHTTP2   bool
	leaderElect                  bool
	webhookCertPath, metricsCert string
	webhookPort                  int
	defaultCredentials           string
	hookTokenFile                string
	certRotation                 bool
	certSecret, webhookHosts     string
	rollgate                     operator.Options
}

func parseFlags(args []string) (*flags, *zap.Options, error) {
	f := &flags{rollgate: operator.DefaultOptions()}
	fs := flag.NewFlagSet("rollgate", flag.ContinueOnError)
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to: :8443 for HTTPS, :8080 for HTTP, 0 to disable it.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica of the manager is active.")
	fs.BoolVar(&f.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization; false for plain HTTP.")
	fs.BoolVar(&f.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics and webhook servers.")
	fs.StringVar(&f.webhookCertPath, "webhook-cert-path", "", "The directory holding the webhook's tls.crt and tls.key.")
	fs.StringVar(&f.metricsCert, "metrics-cert-path", "", "The directory holding the metrics server's tls.crt and tls.key.")
	fs.IntVar(&f.webhookPort, "webhook-port", 9443, "The port the webhook server listens on.")
	o := &f.rollgate
	fs.StringVar(&f.defaultCredentials, "default-credentials", "", "The operator's default credentials Secret, as namespace/name, used by GitLabDeployments whose namespace has no \"gitlab\" Secret.")
	fs.Float64Var(&o.GitLab.QPS, "gitlab-qps", o.GitLab.QPS, "Requests per second allowed to each GitLab host, shared by all workers.")
	fs.IntVar(&o.GitLab.Burst, "gitlab-burst", o.GitLab.Burst, "Requests to each GitLab host allowed above --gitlab-qps at once.")
	fs.DurationVar(&o.GitLab.RequestTimeout, "gitlab-timeout", o.GitLab.RequestTimeout, "Timeout of one GitLab request.")
	fs.IntVar(&o.HistoryLimit, "history-limit", o.HistoryLimit, "GitLabDeployments kept per Deployment (older ones are deleted; their GitLab records stay).")
	fs.DurationVar(&o.RunningThreshold, "running-threshold", o.RunningThreshold, "A record running longer than this counts in rollgate_records_running_too_long.")
	fs.DurationVar(&o.CredentialsRetry, "credentials-retry", o.CredentialsRetry, "How soon a missing or rejected credentials Secret is looked at again.")
	fs.DurationVar(&o.GitLabRetry, "gitlab-retry", o.GitLabRetry, "How soon a rollout stalled on GitLab's refusal (missing ref, project, permission) is tried again.")
	fs.DurationVar(&o.FinalizeTimeout, "finalize-timeout", o.FinalizeTimeout, "How long a deleted GitLabDeployment waits for GitLab to accept canceled before it is let go.")
	fs.BoolVar(&o.Gate.Webhooks, "approval-webhooks", o.Gate.Webhooks, "Serve the Deployment admission webhooks that hold rollouts for GitLab approval.")
	fs.StringVar(&o.Gate.Username, "username", "", "The Kubernetes username rollgate acts as, whose Deployment writes the webhooks let through; empty asks the API server at start.")
	fs.DurationVar(&o.Gate.Polling.Min, "approval-poll-min", o.Gate.Polling.Min, "First interval between reads of a held rollout's approvals; it grows with the wait.")
	fs.DurationVar(&o.Gate.Polling.Max, "approval-poll-max", o.Gate.Polling.Max, "Longest interval between reads of a held rollout's approvals.")
	fs.StringVar(&o.Gate.HookAddr, "gitlab-hook-bind-address", "0", "The address the GitLab webhook receiver (path /hooks/gitlab, plain HTTP) listens on, e.g. :8082; 0 turns it off.")
	fs.StringVar(&f.hookTokenFile, "gitlab-hook-token-file", "", "A file holding the secret token GitLab sends with its webhooks (X-Gitlab-Token).")
	fs.BoolVar(&f.certRotation, "webhook-cert-rotation", true, "Make, renew and trust the webhook certificate (a CA in a Secret, injected as caBundle); false when cert-manager provides it in --webhook-cert-path.")
	fs.StringVar(&f.certSecret, "webhook-cert-secret", "", "The Secret, as namespace/name, that keeps the self-managed webhook certificate; defaults to $POD_NAMESPACE/rollgate-webhook-cert.")
	fs.StringVar(&f.webhookHosts, "webhook-hosts", "", "Comma-separated names or IPs the API server calls the webhooks at; defaults to rollgate-webhook-service.$POD_NAMESPACE.svc.")
	// --kubeconfig, read by ctrl.GetConfigOrDie.
	ctrlconfig.RegisterFlags(fs)
	zapOpts := &zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if f.hookTokenFile != "" {
		token, err := os.ReadFile(f.hookTokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--gitlab-hook-token-file: %w", err)
		}
		o.Gate.HookToken = bytes.TrimSpace(token)
	}
	if err := f.certOptions(); err != nil {
		return nil, nil, err
	}
	if f.defaultCredentials != "" {
		ns, name, ok := strings.Cut(f.defaultCredentials, "/")
		if !ok || ns == "" || name == "" {
			return nil, nil, fmt.Errorf("--default-credentials must be namespace/name, not %q", f.defaultCredentials)
		}
		o.DefaultCredentials = types.NamespacedName{Namespace: ns, Name: name}
	}
	switch {
	case o.GitLab.QPS <= 0:
		return nil, nil, fmt.Errorf("--gitlab-qps must be positive, not %v", o.GitLab.QPS)
	case o.GitLab.Burst <= 0:
		return nil, nil, fmt.Errorf("--gitlab-burst must be positive, not %d", o.GitLab.Burst)
	case o.HistoryLimit <= 0:
		return nil, nil, fmt.Errorf("--history-limit must be positive, not %d", o.HistoryLimit)
	}
	return f, zapOpts, nil
}

func main() {
	f, zapOpts, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rollgate:", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(zapOpts)))
	if err := run(f); err != nil {
		setupLog.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

func run(f *flags) error {
	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		// HTTP/2 stays off by default (HTTP/2 Stream Cancellation and Rapid
		// Reset CVEs).
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	webhookOpts := webhook.Options{TLSOpts: tlsOpts, Port: f.webhookPort}
	if f.webhookCertPath != "" {
		webhookOpts.CertDir = f.webhookCertPath
	}
	if c := f.rollgate.Gate.Certs; c != nil {
		webhookOpts.CertDir = c.CertDir
	}
	metricsOpts := metricsserver.Options{BindAddress: f.metricsAddr, SecureServing: f.secureMetrics, TLSOpts: tlsOpts}
	if f.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if f.metricsCert != "" {
		metricsOpts.CertDir = f.metricsCert
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 operator.NewScheme(),
		Cache:                  operator.CacheOptions(),
		Metrics:                metricsOpts,
		WebhookServer:          webhook.NewServer(webhookOpts),
		HealthProbeBindAddress: f.probeAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       "rollgate.gitlab.rollgate.dev",
		// The pod's namespace (set by the installer); empty means the
		// in-cluster namespace, so running outside needs POD_NAMESPACE.
		LeaderElectionNamespace:       os.Getenv("POD_NAMESPACE"),
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := operator.Setup(ctx, mgr, f.rollgate); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	setupLog.Info("Starting manager")
	return mgr.Start(ctx)
}

// certOptions configures the self-managed webhook certificate.
func (f *flags) certOptions() error {
	if !f.certRotation || !f.rollgate.Gate.Webhooks {
		return nil
	}
	ns := os.Getenv("POD_NAMESPACE")
	c := &operator.CertOptions{
		CertDir:            f.webhookCertPath,
		MutatingWebhooks:   []string{"rollgate-mutating-webhook-configuration"},
		ValidatingWebhooks: []string{"rollgate-validating-webhook-configuration"},
	}
	if c.CertDir == "" {
		c.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	secret := f.certSecret
	if secret == "" && ns != "" {
		secret = ns + "/rollgate-webhook-cert"
	}
	if secret != "" {
		sns, name, ok := strings.Cut(secret, "/")
		if !ok || sns == "" || name == "" {
			return fmt.Errorf("--webhook-cert-secret must be namespace/name, not %q", secret)
		}
		c.Secret = types.NamespacedName{Namespace: sns, Name: name}
	}
	hosts := f.webhookHosts
	if hosts == "" {
		hosts = "rollgate-webhook-service." + ns + ".svc"
	}
	c.Hosts = strings.Split(hosts, ",")
	f.rollgate.Gate.Certs = c
	return nil
}
