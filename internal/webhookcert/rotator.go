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

import (
	"bytes"
	"context"
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
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

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

	mu      sync.Mutex
	current bundle
	trusted []byte
}

// Ensure loads or makes the certificate and writes it into CertDir. Call it
// before the webhook server starts.
func (r *Rotator) Ensure(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	validity := r.Validity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	b, err := r.load(ctx)
	if err != nil {
		return err
	}
	if b == nil {
		b = r.current
	}
	if exp, err := b.expiresAt(); err != nil || time.Until(exp) < validity/3 {
		old := b
		if b, err = newBundle(r.Hosts, time.Now(), validity); err != nil {
			return fmt.Errorf("making the webhook certificate: %w", err)
		}
		if err := r.save(ctx, b); err != nil {
			return err
		}
		// The old CA stays trusted until the new certificate is served.
		r.trusted = append(append([]byte{}, b[KeyCACert]...), old[KeyCACert]...)
		logf.FromContext(ctx).Info("Made a new webhook serving certificate", "secret", r.Secret.String())
	} else if !bytes.Contains(r.trusted, b[KeyCACert]) {
		r.trusted = b[KeyCACert]
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
		case <-time.After(every):
		}
	}
}

// NeedLeaderElection is false: every replica serves webhooks.
func (r *Rotator) NeedLeaderElection() bool { return false }

// load reads the Secret; nil when there is none (or none is configured).
func (r *Rotator) load(ctx context.Context) (bundle, error) {
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
	return bundle(secret.Data), nil
}

// save writes the bundle into the Secret.
func (r *Rotator) save(ctx context.Context, b bundle) error {
	if r.Secret.Name == "" {
		return nil
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Secret.Namespace, Name: r.Secret.Name},
		Type: corev1.SecretTypeTLS, Data: b}
	err := r.Client.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		err = r.Client.Update(ctx, secret)
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
