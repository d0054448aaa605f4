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
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	_ "k8s.io/client-go/plugin/pkg/client/auth"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/rollgate/rollgate/internal/metricsauth"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/version"
)

var setupLog = ctrl.Log.WithName("setup")

func main() {
	f, zapOpts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rollgate:", err)
		os.Exit(2)
	}
	if f.version {
		fmt.Println(version.Get())
		return
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
		metricsOpts.FilterProvider = metricsauth.FilterProvider
	}
	if f.metricsCert != "" {
		metricsOpts.CertDir = f.metricsCert
	}
	gcPercent()
	memProfile(f.pprofAddr != "")
	if limit := memoryLimit(); limit > 0 {
		setupLog.Info("Keeping the Go heap under 90% of the memory limit", "limit", limit)
	}
	restCfg := ctrl.GetConfigOrDie()
	restCfg.QPS, restCfg.Burst = float32(f.kubeQPS), f.kubeBurst
	version.SetUserAgent(restCfg)
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 operator.NewScheme(),
		Cache:                  operator.CacheOptions(),
		Metrics:                metricsOpts,
		WebhookServer:          webhook.NewServer(webhookOpts),
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
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
	if err := crmetrics.Registry.Register(version.Collector()); err != nil {
		return fmt.Errorf("registering %s: %w", version.MetricBuildInfo, err)
	}
	info := version.Get()
	setupLog.Info("Starting manager", "version", info.Version, "commit", info.Commit, "goVersion", info.GoVersion)
	return mgr.Start(ctx)
}

// defaultGCPercent is the manager's GOGC unless the environment sets one.
// Its heap is mostly the cache, a few tens of MiB that change slowly, so a
// collection once the heap has grown by 30% (instead of doubled) costs CPU
// that a mostly idle controller has to spare and keeps the process smaller
// (make bench): 50 instead of 100 kept it a sixth smaller at 2,000
// Deployments (60 instead of 69 MiB); through a burst of 1,000 rollouts over
// 10,000 Deployments, 30 instead of 50 kept the peak of anonymous memory at
// 44 instead of 46-50 MiB, for a fifth more CPU (25 instead of 21 s over the
// two and a half minutes of the burst).
const defaultGCPercent = 30

// gcPercent applies defaultGCPercent unless GOGC is set.
func gcPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// memProfile stops the heap profile's sampling unless the profiling
// endpoints are served (profiled): with nothing to read it, its table of
// call stacks only takes memory (about 2 MiB after a burst). Allocations
// until now were sampled; the table keeps those.
func memProfile(profiled bool) {
	if !profiled {
		runtime.MemProfileRate = 0
	}
}

// memoryLimit sets the Go runtime's soft memory limit (GOMEMLIMIT) to 90%
// of $MEMORY_LIMIT (bytes; the installer sets it to the container's memory
// limit), unless GOMEMLIMIT is set. It returns the limit it set, or 0.
func memoryLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit, err := strconv.ParseInt(os.Getenv("MEMORY_LIMIT"), 10, 64)
	if err != nil || limit <= 0 || limit == math.MaxInt64 {
		return 0
	}
	soft := limit / 10 * 9
	debug.SetMemoryLimit(soft)
	return soft
}
