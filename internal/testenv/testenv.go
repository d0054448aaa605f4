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

// Package testenv starts the control plane of a package's integration
// tests once (envtest: a real kube-apiserver and etcd, with rollgate's CRD
// and admission webhooks installed) and runs rollgate's managers against
// it as users run them, through operator.Setup, each limited to the
// namespaces of one test.
package testenv

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
)

// RollgateUser is the user rollgate's test managers act as; the admission
// webhooks let its writes through.
const RollgateUser = "rollgate"

// BypassKey is the Secret that keeps the key the test webhook server signs
// bypasses with and the test managers verify them with.
var BypassKey = types.NamespacedName{Namespace: "default", Name: bypass.SecretName}

// Env is a running envtest control plane.
type Env struct {
	// Config and Client act as the envtest admin (the tests' own user).
	Config *rest.Config
	Client client.Client
	// RollgateConfig acts as RollgateUser.
	RollgateConfig *rest.Config

	env *envtest.Environment
}

// suite is the package's control plane: started by the first Get of a
// test that needs it, stopped by Main after the tests.
var suite struct {
	webhooks bool
	ready    func(*Env)

	once sync.Once
	env  *Env
	stop func()
	err  error
}

// Main runs a package's tests. The control plane is started lazily, by the
// first test that calls Get (envtest: CRDs and, with webhooks, rollgate's
// admission webhooks served by a manager of their own), which then calls
// ready with it; it is stopped after the tests. Pure tests of the package
// so run with plain `go test`, without a control plane's binaries.
func Main(m *testing.M, webhooks bool, ready func(*Env)) {
	flag.Parse()
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	suite.webhooks, suite.ready = webhooks, ready
	code := m.Run()
	if suite.stop != nil {
		suite.stop()
	}
	os.Exit(code)
}

// Get returns the package's Env, starting it on first use. Under -short it
// skips the test; a test that needs the control plane fails if it cannot be
// started (for instance because its binaries are missing).
func Get(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a control plane (envtest); not run with -short")
	}
	suite.once.Do(func() {
		suite.env, suite.stop, suite.err = start(suite.webhooks)
		if suite.err == nil && suite.ready != nil {
			suite.ready(suite.env)
		}
	})
	if suite.err != nil {
		t.Fatalf("this test needs a control plane (envtest), which could not be started: %v "+
			"(go test -short skips such tests)", suite.err)
	}
	return suite.env
}

// repoPath is a path in the repository.
func repoPath(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, elem...)...)
}

func start(webhooks bool) (*Env, func(), error) {
	bin, err := localcluster.EnvtestAssets()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{repoPath("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	if webhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{repoPath("config", "webhook", "manifests.yaml")}}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	stops := []func(){func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}}
	stop := func() {
		for _, stop := range slices.Backward(stops) {
			stop()
		}
	}
	e := &Env{Config: cfg, env: env}
	if e.Client, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		stop()
		return nil, nil, err
	}
	u, err := env.AddUser(envtest.User{Name: RollgateUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		stop()
		return nil, nil, err
	}
	e.RollgateConfig = u.Config()
	if webhooks {
		stopWebhooks, err := e.serveWebhooks()
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, stopWebhooks)
	}
	return e, stop, nil
}

// serveWebhooks serves rollgate's admission webhooks where envtest
// installed them (a URL on 127.0.0.1 with envtest's CA), wired by
// operator.SetupWebhooks, and waits until they answer.
func (e *Env) serveWebhooks() (func(), error) {
	o := &e.env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(e.RollgateConfig, ctrl.Options{
		Scheme:  operator.NewScheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir}),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := history.SetupIndex(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	if err := operator.SetupWebhooks(ctx, mgr, operator.GateOptions{Webhooks: true, Username: RollgateUser, BypassKey: BypassKey}); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop := func() { cancel(); reportStop(<-done) }
	addr := net.JoinHostPort(o.LocalServingHost, strconv.Itoa(o.LocalServingPort))
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second},
		Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // readiness probe only.
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			lastErr = err
			return false, nil
		}
		_ = conn.Close()
		return true, nil
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("the webhook server at %s did not come up: %w (last dial: %w)", addr, err, lastErr)
	}
	return stop, nil
}

func reportStop(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "stopping a manager: %v\n", err)
	}
}

// NewNamespace creates a namespace for one test and deletes it afterwards.
func (e *Env) NewNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// TestOptions are rollgate's options for tests: short retry intervals and
// GitLab timeouts so that tests of retries finish in seconds, no admission
// webhooks (the package's webhook server serves them, and signs bypasses
// with the key in BypassKey) and a history of 3.
func TestOptions() operator.Options {
	opts := operator.DefaultOptions()
	opts.GitLab.RequestTimeout = time.Second
	opts.GitLab.RetryMax = -1
	opts.GitLab.MaxRateLimitWait = -1
	opts.HistoryLimit = 3
	opts.CredentialsRetry = time.Second
	opts.CredentialsCache = 500 * time.Millisecond
	opts.GitLabRetry = 2 * time.Second
	opts.FinalizeTimeout = 10 * time.Second
	opts.AdoptAfter = 2 * time.Second
	opts.ShippedDelay = 0
	opts.Gate.Webhooks = false
	opts.Gate.BypassKey = BypassKey
	return opts
}

// StartManager runs rollgate, wired by operator.Setup with opts, as
// RollgateUser, watching only the given namespaces, until the test ends.
func (e *Env) StartManager(t testing.TB, opts operator.Options, namespaces ...string) {
	t.Helper()
	nsCache := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		nsCache[ns] = cache.Config{}
	}
	cacheOpts := operator.CacheOptions()
	cacheOpts.DefaultNamespaces = nsCache
	mgr, err := ctrl.NewManager(e.RollgateConfig, ctrl.Options{
		Scheme:     operator.NewScheme(),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cacheOpts,
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatalf("creating a manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := operator.Setup(ctx, mgr, opts); err != nil {
		cancel()
		t.Fatalf("setting up rollgate: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); reportStop(<-done) })
}

// FreeAddr is a loopback address with a port free at the time of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
