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
//
// Several replicas share one Secret. Each one writes it only with an
// optimistic update (a create, or an update of the resourceVersion it read),
// so exactly one of them wins a renewal and the others adopt what it wrote;
// each one watches the Secret and serves whatever certificate it holds, and
// watches the webhook configurations and sets their caBundle again as soon
// as someone removes or changes it.
package webhookcert

// The self-managed webhook certificate sets the caBundle of rollgate's own
// webhook configurations and keeps the CA in a Secret of the operator's
// namespace; both are named, so nothing else can be read or changed (a
// create cannot be limited by name). Every replica watches the three
// objects; its list and watch ask for metadata.name, which the API server
// authorizes by resource name.
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,resourceNames=rollgate-mutating-webhook-configuration,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=rollgate-validating-webhook-configuration,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=rollgate-webhook-cert,verbs=get;list;watch;update
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=create

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// saveAttempts bounds how often the Secret is read again after another
// replica wrote it first.
const saveAttempts = 3

// Retry bounds for a sync that failed (the API server unreachable, a
// conflicting write).
const (
	minRetry = 500 * time.Millisecond
	maxRetry = 30 * time.Second
)

// Rotator keeps the webhook server's certificate valid and trusted.
type Rotator struct {
	// Client writes the Secret and patches the webhook configurations.
	Client client.Client
	// Reader reads them uncached (the manager's API reader).
	Reader client.Reader
	// Watch, when set, watches the Secret and the webhook configurations,
	// each by name (a field selector on metadata.name, which RBAC authorizes
	// by resource name): a certificate another replica wrote is served, and
	// a caBundle someone removed is set again, within moments. Without it
	// they are looked at every CheckInterval only.
	Watch kubernetes.Interface
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
	// configs are the watched webhook configurations (nil without Watch).
	configs []toolscache.Store
	wake    chan struct{}
	once    sync.Once
}

// Ensure loads or makes the certificate and writes it into CertDir. A
// certificate in the Secret is reused while it is valid for Hosts and not
// due for renewal; otherwise (missing, corrupt, for other names, expiring) a
// new CA and certificate replace it. Call it before the webhook server
// starts.
func (r *Rotator) Ensure(ctx context.Context) error {
	b, err := r.reconcile(ctx)
	if err != nil {
		return err
	}
	return r.serve(b)
}

// sync is one pass of Start: the Secret's certificate (renewed if due) is
// trusted by the webhook configurations first and served then, so that no
// replica serves a certificate the API server does not trust yet.
func (r *Rotator) sync(ctx context.Context) error {
	b, err := r.reconcile(ctx)
	if err != nil {
		return err
	}
	if err := r.inject(ctx, b.trust(r.clock().Now())); err != nil {
		return err
	}
	return r.serve(b)
}

// reconcile returns the bundle to serve: the Secret's (or, with no Secret,
// the one in memory) while it is fresh, else a new one, saved. When another
// replica wrote the Secret in between, what it wrote is used.
func (r *Rotator) reconcile(ctx context.Context) (bundle, error) {
	if len(r.Hosts) == 0 {
		return nil, errors.New("the webhook certificate needs at least one host name")
	}
	var (
		b   bundle
		err error
	)
	for range saveAttempts {
		if b, err = r.reconcileSecret(ctx); !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err) {
			break
		}
	}
	return b, err
}

func (r *Rotator) reconcileSecret(ctx context.Context) (bundle, error) {
	now := r.clock().Now()
	secret, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	b := r.current
	r.mu.Unlock()
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
		return b, nil
	}
	fresh, err := newBundle(r.Hosts, now, r.validity())
	if err != nil {
		return nil, fmt.Errorf("making the webhook certificate: %w", err)
	}
	// The old CA stays trusted until the next renewal (or its expiry), so
	// that a replica still serving the old certificate is trusted.
	fresh[KeyCABundle] = fresh[KeyCACert]
	if b != nil && !bytes.Equal(b[KeyCACert], fresh[KeyCACert]) && validCA(b[KeyCACert], now) {
		fresh[KeyCABundle] = append(append([]byte{}, fresh[KeyCACert]...), b[KeyCACert]...)
	}
	if err := r.save(ctx, secret, fresh); err != nil {
		return nil, err
	}
	logf.FromContext(ctx).Info("Made a new webhook serving certificate", "secret", r.Secret.String())
	return fresh, nil
}

// serve writes the bundle's key pair into CertDir, where the webhook
// server's certificate watcher picks it up, unless it is there already.
func (r *Rotator) serve(b bundle) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != nil && bytes.Equal(r.current[KeyTLSCert], b[KeyTLSCert]) && bytes.Equal(r.current[KeyTLSKey], b[KeyTLSKey]) {
		if _, err := os.Stat(filepath.Join(r.CertDir, KeyTLSCert)); err == nil {
			r.current = b
			return nil
		}
	}
	if err := os.MkdirAll(r.CertDir, 0o700); err != nil {
		return err
	}
	// The key first: the watcher reads a pair only once the certificate
	// matches it.
	for _, key := range []string{KeyTLSKey, KeyTLSCert} {
		if err := os.WriteFile(filepath.Join(r.CertDir, key), b[key], 0o600); err != nil {
			return fmt.Errorf("writing the webhook certificate: %w", err)
		}
	}
	r.current = b
	return nil
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

// Start serves, renews and injects the certificate until ctx ends: on every
// change of the Secret or of a webhook configuration (with Watch), every
// CheckInterval, and again soon after a pass that failed.
func (r *Rotator) Start(ctx context.Context) error {
	if r.Watch != nil {
		if err := r.startWatches(ctx); err != nil {
			return err
		}
	}
	every := r.CheckInterval
	if every <= 0 {
		every = time.Hour
	}
	retry := minRetry
	for {
		wait := every
		if err := r.sync(ctx); err != nil {
			logf.FromContext(ctx).Error(err, "Failed to renew or inject the webhook certificate", "retryIn", retry)
			wait, retry = retry, min(2*retry, maxRetry)
		} else {
			retry = minRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wakeup():
		case <-r.clock().After(wait):
		}
	}
}

// NeedLeaderElection is false: every replica serves webhooks.
func (r *Rotator) NeedLeaderElection() bool { return false }

func (r *Rotator) wakeup() chan struct{} {
	r.once.Do(func() { r.wake = make(chan struct{}, 1) })
	return r.wake
}

func (r *Rotator) poke() {
	select {
	case r.wakeup() <- struct{}{}:
	default:
	}
}

// startWatches starts an informer on each named object; the readiness check
// uses the configurations' once they have listed.
func (r *Rotator) startWatches(ctx context.Context) error {
	var informers []toolscache.SharedIndexInformer
	watch := func(c toolscache.Getter, resource, namespace, name string, obj runtime.Object) (toolscache.Store, error) {
		lw := toolscache.NewFilteredListWatchFromClient(c, resource, namespace, func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		})
		inf := toolscache.NewSharedIndexInformer(lw, obj, 0, toolscache.Indexers{})
		poke := func(any) { r.poke() }
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: poke,
			UpdateFunc: func(_, _ any) { r.poke() }, DeleteFunc: poke}); err != nil {
			return nil, err
		}
		informers = append(informers, inf)
		return inf.GetStore(), nil
	}
	if r.Secret.Name != "" {
		if _, err := watch(r.Watch.CoreV1().RESTClient(), "secrets", r.Secret.Namespace, r.Secret.Name, &corev1.Secret{}); err != nil {
			return err
		}
	}
	admission := r.Watch.AdmissionregistrationV1().RESTClient()
	var stores []toolscache.Store
	for _, name := range r.MutatingWebhooks {
		s, err := watch(admission, "mutatingwebhookconfigurations", "", name, &admissionregistrationv1.MutatingWebhookConfiguration{})
		if err != nil {
			return err
		}
		stores = append(stores, s)
	}
	for _, name := range r.ValidatingWebhooks {
		s, err := watch(admission, "validatingwebhookconfigurations", "", name, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		if err != nil {
			return err
		}
		stores = append(stores, s)
	}
	synced := make([]toolscache.InformerSynced, 0, len(informers))
	for _, inf := range informers {
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	// The periodic pass goes on meanwhile (a watch the RBAC forbids keeps
	// the replica unready, not the caBundle unset).
	go func() {
		if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
			return
		}
		if stores == nil {
			stores = []toolscache.Store{}
		}
		r.mu.Lock()
		r.configs = stores
		r.mu.Unlock()
		r.poke()
	}()
	return nil
}

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
// they are, for reconcile to read the Secret again.
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

// inject sets the caBundle of every webhook of the named configurations to
// ca, where it differs. The patch carries the resourceVersion read, so a
// configuration changed in between is looked at again rather than
// overwritten.
func (r *Rotator) inject(ctx context.Context, ca []byte) error {
	for _, name := range r.MutatingWebhooks {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := r.patch(ctx, name, cfg, func() bool {
			changed := false
			for i := range cfg.Webhooks {
				if cc := &cfg.Webhooks[i].ClientConfig; !bytes.Equal(cc.CABundle, ca) {
					cc.CABundle, changed = ca, true
				}
			}
			return changed
		}); err != nil {
			return err
		}
	}
	for _, name := range r.ValidatingWebhooks {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := r.patch(ctx, name, cfg, func() bool {
			changed := false
			for i := range cfg.Webhooks {
				if cc := &cfg.Webhooks[i].ClientConfig; !bytes.Equal(cc.CABundle, ca) {
					cc.CABundle, changed = ca, true
				}
			}
			return changed
		}); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rotator) patch(ctx context.Context, name string, obj client.Object, set func() bool) error {
	if err := r.Reader.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	base, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("copying %s", name)
	}
	if !set() {
		return nil
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("setting the caBundle of %s: %w", name, err)
	}
	logf.FromContext(ctx).Info("Set the webhooks' caBundle", "configuration", name)
	return nil
}

// Checker is a readiness check: it passes once the webhook server at addr
// (host:port) serves the Secret's current certificate, valid now, and the
// webhook configurations, as last watched, trust its CA.
func (r *Rotator) Checker(addr string) healthz.Checker {
	return func(req *http.Request) error {
		r.mu.Lock()
		current, configs := r.current, r.configs
		r.mu.Unlock()
		if current == nil {
			return errors.New("no webhook certificate yet")
		}
		if r.Watch != nil && configs == nil {
			return errors.New("not watching the webhook configurations yet")
		}
		if _, err := current.verify(r.Hosts, r.clock().Now()); err != nil {
			return err
		}
		dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
			//nolint:gosec // G402: the certificate is compared with the current one below.
			Config: &tls.Config{InsecureSkipVerify: true}}
		conn, err := dialer.DialContext(req.Context(), "tcp", addr)
		if err != nil {
			return fmt.Errorf("the webhook server is not reachable: %w", err)
		}
		state := conn.(*tls.Conn).ConnectionState()
		_ = conn.Close()
		block, _ := pem.Decode(current[KeyTLSCert])
		if block == nil || len(state.PeerCertificates) == 0 || !bytes.Equal(state.PeerCertificates[0].Raw, block.Bytes) {
			return errors.New("the webhook server does not serve the current certificate yet")
		}
		for _, store := range configs {
			for _, obj := range store.List() {
				if name, ok := trusts(obj, current[KeyCACert]); !ok {
					return fmt.Errorf("the caBundle of %s does not trust the webhook certificate", name)
				}
			}
		}
		return nil
	}
}

// trusts returns a configuration's name and whether every one of its
// webhooks has ca in its caBundle.
func trusts(obj any, ca []byte) (string, bool) {
	var bundles [][]byte
	var name string
	switch cfg := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		name = cfg.Name
		for _, w := range cfg.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		name = cfg.Name
		for _, w := range cfg.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	}
	for _, b := range bundles {
		if !containsCert(b, ca) {
			return name, false
		}
	}
	return name, true
}

// containsCert reports whether the PEM bundle holds the PEM certificate.
func containsCert(bundle, cert []byte) bool {
	want, _ := pem.Decode(cert)
	if want == nil {
		return false
	}
	for block, rest := pem.Decode(bundle); block != nil; block, rest = pem.Decode(rest) {
		if bytes.Equal(block.Bytes, want.Bytes) {
			return true
		}
	}
	return false
}

// parseCerts returns the certificates of a PEM bundle that parse.
func parseCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			out = append(out, c)
		}
	}
	return out
}
