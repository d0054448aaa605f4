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

// Package webhookcert manages the admission webhooks' serving certificate
// without cert-manager: a CA and a serving certificate kept in a Secret,
// written to the webhook server's certificate directory, injected as the
// caBundle of rollgate's webhook configurations, and renewed before expiry.
package webhookcert

// The self-managed webhook certificate (internal/webhookcert) sets the
// caBundle of rollgate's own webhook configurations and keeps the CA in a
// Secret of the operator's namespace; both are named, so nothing else can be
// read or changed (a create cannot be limited by name).
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,resourceNames=rollgate-mutating-webhook-configuration,verbs=get;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=rollgate-validating-webhook-configuration,verbs=get;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=rollgate-webhook-cert,verbs=get;update
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=create

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// saveAttempts bounds how often Ensure reads the Secret again after another
// replica wrote it first.
const saveAttempts = 3

// Rotator keeps the webhook server's certificate valid and trusted.
type Rotator struct {
	// Client writes the Secret and patches the webhook configurations.
	Client client.Client
	// Reader reads them uncached (the manager's API reader).
	Reader client.Reader
	// Secret keeps the CA and certificate; an empty Name keeps them in
	// memory only, so every start makes a new CA.
	Secret types.NamespacedName
	// CertDir is the webhook server's certificate directory.
	CertDir string
	// Hosts are the DNS names or IP addresses the certificate is for; the
	// first is its common name.
	Hosts []string
	// MutatingWebhooks and ValidatingWebhooks name the configurations whose
	// caBundle is set.
	MutatingWebhooks, ValidatingWebhooks []string
	// Validity of the serving certificate (1 year if zero); it is renewed
	// once two thirds of it have passed.
	Validity time.Duration
	// CheckInterval is how often expiry and the caBundles are checked (1h
	// if zero).
	CheckInterval time.Duration
	// Clock is the time source; the real clock if nil.
	Clock clock.Clock

	mu      sync.Mutex
	current bundle
	trusted []byte
}

// Ensure loads or makes the certificate and writes it into CertDir. A
// certificate in the Secret is reused while it is valid for Hosts and not
// due for renewal; otherwise (missing, corrupt, for other names, expiring) a
// new CA and certificate replace it. Call it before the webhook server
// starts.
func (r *Rotator) Ensure(ctx context.Context) error {
	if len(r.Hosts) == 0 {
		return errors.New("the webhook certificate needs at least one host name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		b   bundle
		err error
	)
	for range saveAttempts {
		if b, err = r.reconcileSecret(ctx); !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err) {
			break
		}
		// Another replica wrote the Secret first: use what it wrote.
	}
	if err != nil {
		return err
	}
	r.current = b
	if err := os.MkdirAll(r.CertDir, 0o700); err != nil {
		return err
	}
	for _, key := range []string{KeyTLSKey, KeyTLSCert} {
		if err := os.WriteFile(filepath.Join(r.CertDir, key), b[key], 0o600); err != nil {
			return fmt.Errorf("writing the webhook certificate: %w", err)
		}
	}
	return nil
}

// reconcileSecret returns the bundle to serve: the Secret's (or, with no
// Secret, the one in memory) while it is fresh, else a new one, saved.
func (r *Rotator) reconcileSecret(ctx context.Context) (bundle, error) {
	now := r.clock().Now()
	secret, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	b := r.current
	if secret != nil {
		b = bundle(secret.Data)
	}
	if r.fresh(b, now) {
		if secret == nil {
			// The Secret was deleted: write it again for the next start.
			if err := r.save(ctx, nil, b); err != nil {
				return nil, err
			}
		}
		r.trust(b, r.current, now)
		return b, nil
	}
	fresh, err := newBundle(r.Hosts, now, r.validity())
	if err != nil {
		return nil, fmt.Errorf("making the webhook certificate: %w", err)
	}
	if err := r.save(ctx, secret, fresh); err != nil {
		return nil, err
	}
	// The old CA stays trusted until the new certificate is served.
	r.trust(fresh, b, now)
	logf.FromContext(ctx).Info("Made a new webhook serving certificate", "secret", r.Secret.String())
	return fresh, nil
}

// fresh reports whether a bundle is valid for the hosts and not yet due for
// renewal.
func (r *Rotator) fresh(b bundle, now time.Time) bool {
	if b == nil {
		return false
	}
	exp, err := b.verify(r.Hosts, now)
	return err == nil && exp.Sub(now) >= r.validity()/3
}

// trust sets the caBundle to b's CA, followed by prev's while prev's CA is
// still valid; it keeps what it trusts when b's CA is already in it.
func (r *Rotator) trust(b, prev bundle, now time.Time) {
	ca := b[KeyCACert]
	if prev != nil && !bytes.Equal(prev[KeyCACert], ca) && validCA(prev[KeyCACert], now) {
		r.trusted = append(append([]byte{}, ca...), prev[KeyCACert]...)
		return
	}
	if !bytes.Contains(r.trusted, ca) {
		r.trusted = append([]byte{}, ca...)
	}
}

// Start injects the caBundle and renews the certificate until ctx ends.
func (r *Rotator) Start(ctx context.Context) error {
	every := r.CheckInterval
	if every <= 0 {
		every = time.Hour
	}
	for {
		if err := r.Ensure(ctx); err != nil {
			logf.FromContext(ctx).Error(err, "Failed to renew the webhook certificate")
		} else if err := r.inject(ctx); err != nil {
			logf.FromContext(ctx).Error(err, "Failed to set the webhooks' caBundle")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.clock().After(every):
		}
	}
}

// NeedLeaderElection is false: every replica serves webhooks.
func (r *Rotator) NeedLeaderElection() bool { return false }

func (r *Rotator) clock() clock.Clock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

func (r *Rotator) validity() time.Duration {
	if r.Validity <= 0 {
		return 365 * 24 * time.Hour
	}
	return r.Validity
}

// load reads the Secret; nil when there is none (or none is configured).
func (r *Rotator) load(ctx context.Context) (*corev1.Secret, error) {
	if r.Secret.Name == "" {
		return nil, nil
	}
	secret := &corev1.Secret{}
	err := r.Reader.Get(ctx, r.Secret, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the webhook certificate Secret %s: %w", r.Secret, err)
	}
	return secret, nil
}

// save writes the bundle into the Secret: a new Secret, or an update of the
// one read (with its resourceVersion, so that a replica that wrote it in
// between is not overwritten). AlreadyExists and Conflict are returned as
// they are, for Ensure to read the Secret again.
func (r *Rotator) save(ctx context.Context, existing *corev1.Secret, b bundle) error {
	if r.Secret.Name == "" {
		return nil
	}
	var err error
	if existing == nil {
		err = r.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Secret.Namespace, Name: r.Secret.Name},
			Type: corev1.SecretTypeTLS, Data: b})
	} else {
		secret := existing.DeepCopy()
		secret.Data = b
		err = r.Client.Update(ctx, secret)
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		return err
	}
	if err != nil {
		return fmt.Errorf("writing the webhook certificate Secret %s: %w", r.Secret, err)
	}
	return nil
}

// inject sets the caBundle of every webhook of the named configurations.
func (r *Rotator) inject(ctx context.Context) error {
	r.mu.Lock()
	ca := r.trusted
	r.mu.Unlock()
	for _, name := range r.MutatingWebhooks {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := r.patch(ctx, name, cfg, func() {
			for i := range cfg.Webhooks {
				cfg.Webhooks[i].ClientConfig.CABundle = ca
			}
		}); err != nil {
			return err
		}
	}
	for _, name := range r.ValidatingWebhooks {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := r.patch(ctx, name, cfg, func() {
			for i := range cfg.Webhooks {
				cfg.Webhooks[i].ClientConfig.CABundle = ca
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rotator) patch(ctx context.Context, name string, obj client.Object, set func()) error {
	if err := r.Reader.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	base, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("copying %s", name)
	}
	set()
	return r.Client.Patch(ctx, obj, client.MergeFrom(base))
}
