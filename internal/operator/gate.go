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

package operator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/gitlabhook"
	"github.com/rollgate/rollgate/internal/rollout"
	gatewebhook "github.com/rollgate/rollgate/internal/webhook"
	"github.com/rollgate/rollgate/internal/webhookcert"
)

// GateOptions configure the approval gate.
type GateOptions struct {
	// Webhooks registers the Deployment admission webhooks on the manager's
	// webhook server.
	Webhooks bool
	// Username is the user rollgate acts as, whose Deployment writes the
	// webhooks let through; empty means ask the API server
	// (SelfSubjectReview) at start.
	Username string
	// Polling bounds how often GitLab is asked about held rollouts.
	Polling rollout.ApprovalPolling
	// HookAddr is the address the GitLab webhook receiver listens on
	// (plain HTTP, path HookPath); empty or "0" turns it off.
	HookAddr string
	// HookToken is the secret GitLab sends as X-Gitlab-Token.
	HookToken []byte
	// BypassKey is the Secret that keeps the key the webhooks sign the
	// bypass's user with and the controller verifies it with (made if
	// missing); an empty Name keeps a key in memory, so that only a webhook
	// of the same process signs what the controller trusts.
	BypassKey types.NamespacedName
	// Certs, when set, manages the webhook server's certificate (made,
	// kept in a Secret, injected as caBundle, renewed); nil when another
	// tool such as cert-manager provides it.
	Certs *CertOptions
}

// CertOptions configure the self-managed webhook certificate.
type CertOptions struct {
	// Secret keeps the CA and certificate; empty Name keeps them in memory.
	Secret types.NamespacedName
	// CertDir is the webhook server's certificate directory.
	CertDir string
	// Hosts are the names (or IPs) the API server reaches the webhooks by.
	Hosts []string
	// MutatingWebhooks and ValidatingWebhooks name the configurations
	// whose caBundle is set.
	MutatingWebhooks, ValidatingWebhooks []string
}

// HookPath is the path of the GitLab webhook receiver.
const HookPath = "/hooks/gitlab"

// bypassKeys are the keys the webhooks sign bypasses with and the
// controller verifies them with.
func bypassKeys(mgr ctrl.Manager, opts GateOptions) *bypass.Keys {
	return &bypass.Keys{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Secret: opts.BypassKey}
}

// setupGate registers the admission webhooks and the GitLab webhook
// receiver, and returns the channel the receiver triggers reconciles on.
func setupGate(ctx context.Context, mgr ctrl.Manager, opts GateOptions, keys *bypass.Keys) (chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment], error) {
	if opts.Webhooks {
		if err := setupWebhooks(ctx, mgr, opts, keys); err != nil {
			return nil, err
		}
	}
	if opts.HookAddr == "" || opts.HookAddr == "0" {
		return nil, nil
	}
	if len(opts.HookToken) == 0 {
		return nil, errors.New("the GitLab webhook receiver needs a token (--gitlab-hook-token-file)")
	}
	triggers := make(chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment], 64)
	mux := http.NewServeMux()
	mux.Handle(HookPath, &gitlabhook.Receiver{Reader: mgr.GetClient(), Token: opts.HookToken, Triggers: triggers})
	if err := mgr.Add(hookServer(opts.HookAddr, mux)); err != nil {
		return nil, err
	}
	return triggers, nil
}

// SetupWebhooks registers the Deployment admission webhooks of the gate
// (and, with opts.Certs, the self-managed certificate) on mgr.
func SetupWebhooks(ctx context.Context, mgr ctrl.Manager, opts GateOptions) error {
	return setupWebhooks(ctx, mgr, opts, bypassKeys(mgr, opts))
}

func setupWebhooks(ctx context.Context, mgr ctrl.Manager, opts GateOptions, keys *bypass.Keys) error {
	username := opts.Username
	if username == "" {
		var err error
		if username, err = selfUsername(ctx, mgr); err != nil {
			return fmt.Errorf("learning rollgate's username (set --username): %w", err)
		}
	}
	if opts.Certs != nil {
		if err := setupCerts(ctx, mgr, opts.Certs); err != nil {
			return err
		}
	} else if err := mgr.AddReadyzCheck("webhook-server", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	historyReader, err := newHistoryReader(ctx, mgr)
	if err != nil {
		return err
	}
	logf.FromContext(ctx).Info("Registered the Deployment approval webhooks", "username", username)
	if err := gatewebhook.SetupDeploymentGateWebhook(mgr, historyReader, username, keys); err != nil {
		return fmt.Errorf("setting up the Deployment webhooks: %w", err)
	}
	return nil
}

// hookServer serves the receiver until the manager stops.
func hookServer(addr string, handler http.Handler) manager.RunnableFunc {
	return func(ctx context.Context) error {
		srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return ctx }}
		errs := make(chan error, 1)
		go func() { errs <- srv.ListenAndServe() }()
		select {
		case err := <-errs:
			return fmt.Errorf("serving the GitLab webhook receiver: %w", err)
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdown)
		}
	}
}

// rollgate learns its own username (to let its own Deployment writes
// through the webhooks) with a SelfSubjectReview.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// selfUsername asks the API server who rollgate is.
func selfUsername(ctx context.Context, mgr ctrl.Manager) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := mgr.GetClient().Create(ctx, review); err != nil {
		return "", err
	}
	return review.Status.UserInfo.Username, nil
}

// setupCerts makes or loads the webhook certificate now, so that the
// webhook server finds it at start, and keeps it renewed and trusted. Every
// replica runs it; the manager is ready once its webhook server serves the
// current certificate and the webhook configurations trust it.
func setupCerts(ctx context.Context, mgr ctrl.Manager, opts *CertOptions) error {
	watch, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	rotator := &webhookcert.Rotator{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Watch: watch, Secret: opts.Secret,
		CertDir: opts.CertDir, Hosts: opts.Hosts, MutatingWebhooks: opts.MutatingWebhooks, ValidatingWebhooks: opts.ValidatingWebhooks}
	if err := rotator.Ensure(ctx); err != nil {
		return fmt.Errorf("preparing the webhook certificate: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook-certificate", rotator.Checker(webhookAddr(mgr.GetWebhookServer()))); err != nil {
		return err
	}
	return mgr.Add(rotator)
}

// webhookAddr is where this process reaches its own webhook server.
func webhookAddr(srv webhook.Server) string {
	host, port := "", 9443
	if s, ok := srv.(*webhook.DefaultServer); ok {
		host = s.Options.Host
		if s.Options.Port > 0 {
			port = s.Options.Port
		}
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
