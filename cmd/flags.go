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

package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/version"
)

// flags are the manager's command-line settings.
type flags struct {
	metricsAddr, probeAddr       string
	pprofAddr                    string
	secureMetrics, enableHTTP2   bool
	leaderElect                  bool
	webhookCertPath, metricsCert string
	webhookPort                  int
	kubeQPS                      float64
	kubeBurst                    int
	defaultCredentials           string
	hookTokenFile                string
	certRotation                 bool
	certSecret, webhookHosts     string
	bypassKeySecret              string
	rollgate                     operator.Options
	// version asks for the build's version instead of a run.
	version bool
}

func parseFlags(args []string) (*flags, *zap.Options, error) {
	f := &flags{rollgate: operator.DefaultOptions()}
	// rollgate/<version> towards GitLab.
	f.rollgate.GitLab.UserAgent = version.UserAgent()
	fs := flag.NewFlagSet("rollgate", flag.ContinueOnError)
	f.bindManager(fs)
	f.bindGitLab(fs)
	f.bindGate(fs)
	fs.BoolVar(&f.version, "version", false, "Print the version, commit and Go version, and exit.")
	// --kubeconfig, read by ctrl.GetConfigOrDie.
	ctrlconfig.RegisterFlags(fs)
	zapOpts := &zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if f.version {
		return f, zapOpts, nil
	}
	if err := f.complete(); err != nil {
		return nil, nil, err
	}
	return f, zapOpts, nil
}

// bindManager binds the usual controller-runtime manager settings.
func (f *flags) bindManager(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to: :8443 for HTTPS, :8080 for HTTP, 0 to disable it.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081",
		"The address the health and readiness probes bind to.")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "",
		"The address Go's profiling endpoints (/debug/pprof/) bind to, unauthenticated: "+
			"for troubleshooting, on a loopback address; empty to disable them (and the heap profile's sampling).")
	fs.BoolVar(&f.leaderElect, "leader-elect", false,
		"Elect a leader, so that only one replica of the manager is active.")
	fs.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization; false for plain HTTP.")
	fs.BoolVar(&f.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics and webhook servers.")
	fs.StringVar(&f.webhookCertPath, "webhook-cert-path", "",
		"The directory holding the webhook's tls.crt and tls.key.")
	fs.StringVar(&f.metricsCert, "metrics-cert-path", "",
		"The directory holding the metrics server's tls.crt and tls.key.")
	fs.IntVar(&f.webhookPort, "webhook-port", 9443, "The port the webhook server listens on.")
	f.kubeQPS, f.kubeBurst = 500, 1000
	fs.Float64Var(&f.kubeQPS, "kube-api-qps", f.kubeQPS, "Requests per second to the Kubernetes API server.")
	fs.IntVar(&f.kubeBurst, "kube-api-burst", f.kubeBurst,
		"Requests to the Kubernetes API server allowed above --kube-api-qps at once.")
	o := &f.rollgate
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", o.MaxConcurrentReconciles,
		"GitLabDeployments reconciled at once.")
}

// bindGitLab binds how rollgate records rollouts in GitLab.
func (f *flags) bindGitLab(fs *flag.FlagSet) {
	o := &f.rollgate
	fs.StringVar(&f.defaultCredentials, "default-credentials", "",
		"The operator's default credentials Secret, as namespace/name, used by GitLabDeployments "+
			"whose namespace has no \"gitlab\" Secret.")
	fs.Float64Var(&o.GitLab.QPS, "gitlab-qps", o.GitLab.QPS,
		"Requests per second allowed to each GitLab host, shared by all workers.")
	fs.IntVar(&o.GitLab.Burst, "gitlab-burst", o.GitLab.Burst,
		"Requests to each GitLab host allowed above --gitlab-qps at once.")
	fs.DurationVar(&o.GitLab.RequestTimeout, "gitlab-timeout", o.GitLab.RequestTimeout, "Timeout of one GitLab request.")
	fs.IntVar(&o.HistoryLimit, "history-limit", o.HistoryLimit,
		"GitLabDeployments kept per Deployment (older ones are deleted; their GitLab records stay).")
	fs.DurationVar(&o.RunningThreshold, "running-threshold", o.RunningThreshold,
		"A record running longer than this counts in rollgate_records_running_too_long.")
	fs.DurationVar(&o.CredentialsRetry, "credentials-retry", o.CredentialsRetry,
		"How soon a missing or rejected credentials Secret is looked at again.")
	fs.DurationVar(&o.GitLabRetry, "gitlab-retry", o.GitLabRetry,
		"How soon a rollout stalled on GitLab's refusal (missing ref, project, permission) is tried again.")
	fs.DurationVar(&o.FinalizeTimeout, "finalize-timeout", o.FinalizeTimeout,
		"How long a deleted GitLabDeployment waits for GitLab to accept canceled before it is let go.")
	fs.StringVar(&o.ClusterName, "cluster-name", "",
		"This cluster's name, a DNS label: it replaces {cluster} in gitlab.rollgate.dev/environment "+
			"(e.g. production/{cluster}) and is recorded in each GitLabDeployment's status.cluster and Events.")
	fs.DurationVar(&o.ShippedDelay, "shipped-delay", o.ShippedDelay,
		"How long after a record's success the merge requests GitLab linked to it are read "+
			"(GitLab links them in the background).")
}

// bindGate binds the approval gate's settings.
func (f *flags) bindGate(fs *flag.FlagSet) {
	o := &f.rollgate
	fs.BoolVar(&o.Gate.Webhooks, "approval-webhooks", o.Gate.Webhooks,
		"Serve the Deployment admission webhooks that hold rollouts for GitLab approval.")
	fs.StringVar(&o.Gate.Username, "username", "",
		"The Kubernetes username rollgate acts as, whose Deployment writes the webhooks let through; "+
			"empty asks the API server at start.")
	fs.DurationVar(&o.Gate.Polling.Min, "approval-poll-min", o.Gate.Polling.Min,
		"First interval between reads of a held rollout's approvals; it grows with the wait.")
	fs.DurationVar(&o.Gate.Polling.Max, "approval-poll-max", o.Gate.Polling.Max,
		"Longest interval between reads of a held rollout's approvals.")
	fs.StringVar(&o.Gate.HookAddr, "gitlab-hook-bind-address", "0",
		"The address the GitLab webhook receiver (path /hooks/gitlab, plain HTTP) listens on, e.g. :8082; 0 turns it off.")
	fs.StringVar(&f.hookTokenFile, "gitlab-hook-token-file", "",
		"A file holding the secret token GitLab sends with its webhooks (X-Gitlab-Token).")
	fs.BoolVar(&f.certRotation, "webhook-cert-rotation", true,
		"Make, renew and trust the webhook certificate (a CA in a Secret, injected as caBundle); "+
			"false when cert-manager provides it in --webhook-cert-path.")
	fs.StringVar(&f.certSecret, "webhook-cert-secret", "",
		"The Secret, as namespace/name, that keeps the self-managed webhook certificate; "+
			"defaults to $POD_NAMESPACE/rollgate-webhook-cert.")
	fs.StringVar(&f.bypassKeySecret, "bypass-key-secret", "",
		"The Secret, as namespace/name, that keeps the key the webhooks sign who set an approval bypass with "+
			"(made if missing); defaults to $POD_NAMESPACE/rollgate-bypass-key.")
	fs.StringVar(&f.webhookHosts, "webhook-hosts", "",
		"Comma-separated names or IPs the API server calls the webhooks at; "+
			"defaults to rollgate-webhook-service.$POD_NAMESPACE.svc.")
}

// complete reads files named by flags and checks the values.
func (f *flags) complete() error {
	o := &f.rollgate
	if f.hookTokenFile != "" {
		token, err := os.ReadFile(f.hookTokenFile)
		if err != nil {
			return fmt.Errorf("--gitlab-hook-token-file: %w", err)
		}
		o.Gate.HookToken = bytes.TrimSpace(token)
	}
	if err := f.certOptions(); err != nil {
		return err
	}
	if err := f.bypassKeyOptions(); err != nil {
		return err
	}
	if f.defaultCredentials != "" {
		ns, name, ok := strings.Cut(f.defaultCredentials, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--default-credentials must be namespace/name, not %q", f.defaultCredentials)
		}
		o.DefaultCredentials = types.NamespacedName{Namespace: ns, Name: name}
	}
	if err := validateClusterName(o.ClusterName); err != nil {
		return err
	}
	switch {
	case o.ShippedDelay < 0:
		return fmt.Errorf("--shipped-delay must not be negative, not %v", o.ShippedDelay)
	case o.GitLab.QPS <= 0:
		return fmt.Errorf("--gitlab-qps must be positive, not %v", o.GitLab.QPS)
	case o.GitLab.Burst <= 0:
		return fmt.Errorf("--gitlab-burst must be positive, not %d", o.GitLab.Burst)
	case o.HistoryLimit <= 0:
		return fmt.Errorf("--history-limit must be positive, not %d", o.HistoryLimit)
	case f.kubeQPS <= 0:
		return fmt.Errorf("--kube-api-qps must be positive, not %v", f.kubeQPS)
	case f.kubeBurst <= 0:
		return fmt.Errorf("--kube-api-burst must be positive, not %d", f.kubeBurst)
	case o.MaxConcurrentReconciles <= 0:
		return fmt.Errorf("--max-concurrent-reconciles must be positive, not %d", o.MaxConcurrentReconciles)
	}
	return nil
}

// validateClusterName accepts an empty name or a DNS label (RFC 1123) of at
// most 63 characters: it becomes part of GitLab environment names.
func validateClusterName(name string) error {
	if name == "" {
		return nil
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return fmt.Errorf("--cluster-name %q is not a DNS label: use lowercase letters, digits and '-', "+
			"starting and ending with a letter or digit, at most 63 characters", name)
	}
	return nil
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

// bypassKeyOptions names the Secret of the bypass signing key; without a
// namespace the key is kept in memory.
func (f *flags) bypassKeyOptions() error {
	secret := f.bypassKeySecret
	if ns := os.Getenv("POD_NAMESPACE"); secret == "" && ns != "" {
		secret = ns + "/" + bypass.SecretName
	}
	if secret == "" {
		return nil
	}
	ns, name, ok := strings.Cut(secret, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("--bypass-key-secret must be namespace/name, not %q", secret)
	}
	f.rollgate.Gate.BypassKey = types.NamespacedName{Namespace: ns, Name: name}
	return nil
}
