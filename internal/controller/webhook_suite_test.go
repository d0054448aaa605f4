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

package controller

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// rollgateUser is the user rollgate's test managers act as.
const rollgateUser = "rollgate"

// rollgateConfig returns a config for rollgate's own user (a cluster admin).
func rollgateConfig(env *envtest.Environment) (*rest.Config, error) {
	u, err := env.AddUser(envtest.User{Name: rollgateUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return u.Config(), nil
}

// startWebhookServer serves rollgate's admission webhooks where envtest
// installed them (a URL on 127.0.0.1 with envtest's CA).
func startWebhookServer(env *envtest.Environment) (func(), error) {
	o := &env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  testScheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir}),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := SetupIndexes(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	if err := SetupDeploymentGateWebhook(mgr, rollgateUser); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	addr := net.JoinHostPort(o.LocalServingHost, strconv.Itoa(o.LocalServingPort))
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second},
		Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // readiness probe only.
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			cancel()
			return nil, fmt.Errorf("the webhook server at %s did not come up: %w", addr, err)
		}
	}
	return func() { cancel(); reportStop(<-done) }, nil
}
