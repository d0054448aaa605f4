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

// Package bypass signs who set a Deployment's approval bypass, so that the
// name rollgate records cannot be claimed by anyone else.
//
// The admission webhook writes gitlab.rollgate.dev/approval-bypassed-by as
// "USER sig=v1.TEMPLATE.MAC": the user the API server authenticated, the
// pod-template-hash the bypass was set for, and an HMAC-SHA256 over the
// Deployment's namespace, name and UID, that template, the bypass reason and
// the user. The key is 32 random bytes in a Secret of rollgate's namespace
// (rollgate-bypass-key, made by the first replica that needs it), which
// every replica reads: a user who may edit Deployments but not read that
// Secret cannot write a value that verifies, whether the webhook is called
// or not. The controller names the user only when the value verifies.
package bypass

// The key Secret is read by name; the manager's Role already lets it create
// Secrets in its namespace (a create cannot be limited by name).
//
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=rollgate-bypass-key,verbs=get

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretName is the default name of the key Secret.
const SecretName = "rollgate-bypass-key" //nolint:gosec // a Secret's name, not a credential

// secretKey is the key Secret's data key.
const secretKey = "key"

// keySize is the length of the HMAC key in bytes.
const keySize = 32

// refreshAfter is how long a key read from the Secret is used before it is
// read again (a deleted Secret is made again with a new key).
const refreshAfter = time.Minute

// sigPrefix separates the user from the signature in the annotation value.
const sigPrefix = " sig=v1."

// Keys holds the key that bypasses are signed with.
type Keys struct {
	// Client creates the Secret when there is none.
	Client client.Client
	// Reader reads the Secret (the manager's API reader: Secrets are not
	// cached).
	Reader client.Reader
	// Secret keeps the key. An empty Name keeps a key of this process only:
	// a bypass is then named only when the webhook and the controller run in
	// the same process.
	Secret types.NamespacedName

	mu   sync.Mutex
	key  []byte
	read time.Time
}

// Signed is what a bypassed-by value says.
type Signed struct {
	// User set the bypass, as the API server authenticated them.
	User string
	// Template is the pod-template-hash the bypass was set for.
	Template string
}

// Sign returns the bypassed-by value naming user as who set the bypass with
// reason on deploy, for the template with hash.
func (k *Keys) Sign(ctx context.Context, deploy *appsv1.Deployment, template, reason, user string) (string, error) {
	key, err := k.get(ctx, false)
	if err != nil {
		return "", err
	}
	sum := mac(key, deploy, deploy.UID, template, reason, user)
	return user + sigPrefix + template + "." + base64.RawURLEncoding.EncodeToString(sum), nil
}

// Verify reports who a bypassed-by value on deploy names and for which
// template, if rollgate signed it for this Deployment and this reason; ok is
// false for a value anyone else wrote. A Deployment created with the bypass
// was signed before it had a UID: that signature counts until its spec
// first changes.
func (k *Keys) Verify(ctx context.Context, deploy *appsv1.Deployment, reason, value string) (Signed, bool, error) {
	s, sum, ok := parse(value)
	if !ok {
		return Signed{}, false, nil
	}
	for _, refresh := range []bool{false, true} {
		key, err := k.get(ctx, refresh)
		if err != nil {
			return Signed{}, false, err
		}
		if hmac.Equal(sum, mac(key, deploy, deploy.UID, s.Template, reason, s.User)) ||
			(deploy.Generation <= 1 && hmac.Equal(sum, mac(key, deploy, "", s.Template, reason, s.User))) {
			return s, true, nil
		}
		if k.Secret.Name == "" {
			break
		}
	}
	return Signed{}, false, nil
}

// User is the user a bypassed-by value names, signed or not, for display.
func User(value string) string {
	if s, _, ok := parse(value); ok {
		return s.User
	}
	return value
}

// parse splits a bypassed-by value into what it says and its MAC.
func parse(value string) (Signed, []byte, bool) {
	i := strings.LastIndex(value, sigPrefix)
	if i < 0 {
		return Signed{}, nil, false
	}
	template, encoded, ok := strings.Cut(value[i+len(sigPrefix):], ".")
	if !ok || template == "" {
		return Signed{}, nil, false
	}
	sum, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil || len(sum) != sha256.Size {
		return Signed{}, nil, false
	}
	return Signed{User: value[:i], Template: template}, sum, true
}

// mac is the HMAC of everything a signature binds, each field length-prefixed.
func mac(key []byte, deploy *appsv1.Deployment, uid types.UID, template, reason, user string) []byte {
	h := hmac.New(sha256.New, key)
	for _, f := range []string{"rollgate approval bypass v1", deploy.Namespace, deploy.Name, string(uid), template, reason, user} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		_, _ = h.Write(n[:])
		_, _ = h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// get returns the key: the one held while it is recent (or, with refresh,
// only if it was read just now), else the Secret's, made if there is none.
func (k *Keys) get(ctx context.Context, refresh bool) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if k.Secret.Name == "" {
		if k.key == nil {
			k.key = make([]byte, keySize)
			_, _ = rand.Read(k.key)
		}
		return k.key, nil
	}
	age := now.Sub(k.read)
	if k.key != nil && (age < refreshAfter && !refresh || age < time.Second) {
		return k.key, nil
	}
	key, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	k.key, k.read = key, now
	return key, nil
}

// load reads the key Secret, and makes it if there is none.
func (k *Keys) load(ctx context.Context) ([]byte, error) {
	for range 3 {
		secret := &corev1.Secret{}
		err := k.Reader.Get(ctx, k.Secret, secret)
		if err == nil {
			key := secret.Data[secretKey]
			if len(key) < keySize {
				return nil, fmt.Errorf("the bypass key Secret %s has no %d-byte %q; delete it and rollgate makes a new one",
					k.Secret, keySize, secretKey)
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading the bypass key Secret %s: %w", k.Secret, err)
		}
		key := make([]byte, keySize)
		_, _ = rand.Read(key)
		err = k.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Secret.Namespace, Name: k.Secret.Name,
			Labels: map[string]string{"app.kubernetes.io/name": "rollgate"}},
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{secretKey: key}})
		if err == nil {
			return key, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("making the bypass key Secret %s: %w", k.Secret, err)
		}
	}
	return nil, fmt.Errorf("reading the bypass key Secret %s: it keeps changing", k.Secret)
}
