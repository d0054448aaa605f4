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

package gitlabdeployment

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// CredentialsError says why no GitLab client could be made. It names the
// Secret and key, never their contents.
type CredentialsError struct {
	// Reason is the condition reason.
	Reason string
	// Message is for a human.
	Message string
}

func (e *CredentialsError) Error() string { return e.Message }

// CredentialsResolver finds the credentials Secret of a GitLabDeployment:
// the one it names (default "gitlab") in its own namespace, else the
// operator's default Secret when one is configured. It never reads a Secret
// in any other namespace. Secrets are read directly from the API server
// (not cached), so the operator does not hold the cluster's Secrets in memory.
type CredentialsResolver struct {
	// Reader reads Secrets; an uncached reader such as mgr.GetAPIReader().
	Reader client.Reader
	// Default is the operator's default Secret; empty Name means none.
	Default types.NamespacedName
	// CacheFor is how long a Secret read (or found missing) is reused, so
	// that a burst of rollouts in a namespace reads its Secret once; a
	// changed Secret is used at most this long after the change. Zero
	// reads the Secret every time.
	CacheFor time.Duration
	// Clock is the time source of the cache; the real clock if nil.
	Clock clock.PassiveClock

	mu   sync.Mutex
	read map[types.NamespacedName]secretRead
}

// secretRead is one read of a Secret: its data, or that it is missing.
type secretRead struct {
	data    map[string][]byte
	missing bool
	at      time.Time
}

// get reads a Secret's data, reusing a read younger than CacheFor.
func (r *CredentialsResolver) get(ctx context.Context, key types.NamespacedName) (map[string][]byte, error) {
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock.Now()
	}
	r.mu.Lock()
	cached, ok := r.read[key]
	r.mu.Unlock()
	if ok && now.Sub(cached.at) < r.CacheFor {
		if cached.missing {
			return nil, apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
		}
		return cached.data, nil
	}
	secret := &corev1.Secret{}
	err := r.Reader.Get(ctx, key, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if r.CacheFor > 0 {
		r.mu.Lock()
		if r.read == nil {
			r.read = map[types.NamespacedName]secretRead{}
		}
		r.read[key] = secretRead{data: secret.Data, missing: err != nil, at: now}
		r.mu.Unlock()
	}
	return secret.Data, err
}

// Resolve returns the credentials for gld and the Secret they came from.
func (r *CredentialsResolver) Resolve(ctx context.Context, gld *gitlabv1alpha1.GitLabDeployment) (gitlab.Credentials, types.NamespacedName, error) {
	name := gld.Spec.Credentials
	if name == "" {
		name = gitlabv1alpha1.DefaultCredentialsSecret
	}
	key := types.NamespacedName{Namespace: gld.Namespace, Name: name}
	data, err := r.get(ctx, key)
	if apierrors.IsNotFound(err) && r.Default.Name != "" && gld.Spec.Credentials == "" {
		key = r.Default
		data, err = r.get(ctx, key)
	}
	switch {
	case apierrors.IsNotFound(err):
		return gitlab.Credentials{}, key, &CredentialsError{Reason: gitlabv1alpha1.ReasonCredentialsNotFound,
			Message: fmt.Sprintf("the credentials Secret %s does not exist: create it with the keys %q and %q (see %s)",
				key, gitlabv1alpha1.SecretKeyURL, gitlabv1alpha1.SecretKeyToken, gitlabv1alpha1.AnnotationCredentials)}
	case err != nil:
		return gitlab.Credentials{}, key, fmt.Errorf("reading the credentials Secret %s: %w", key, err)
	}
	creds := gitlab.Credentials{
		URL:    string(data[gitlabv1alpha1.SecretKeyURL]),
		Token:  string(data[gitlabv1alpha1.SecretKeyToken]),
		CACert: data[gitlabv1alpha1.SecretKeyCA],
	}
	for _, k := range []string{gitlabv1alpha1.SecretKeyURL, gitlabv1alpha1.SecretKeyToken} {
		if len(data[k]) == 0 {
			return gitlab.Credentials{}, key, &CredentialsError{Reason: gitlabv1alpha1.ReasonCredentialsInvalid,
				Message: fmt.Sprintf("the credentials Secret %s has no key %q", key, k)}
		}
	}
	return creds, key, nil
}
