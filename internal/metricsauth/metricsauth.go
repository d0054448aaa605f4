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

// Package metricsauth guards the metrics endpoint the way the API server's
// delegated authentication and authorization do: a bearer token is checked
// with a TokenReview, and the user it names must be allowed the request's
// verb on its path (a non-resource URL, e.g. get /metrics) by a
// SubjectAccessReview. Answers are cached for a short while, so a
// Prometheus scraping every 15 s costs the API server a request a minute.
//
// It replaces controller-runtime's filters.WithAuthenticationAndAuthorization,
// which links k8s.io/apiserver's authenticators and CEL into the binary: half
// of its code, resident in every replica.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Cache lifetimes, as controller-runtime's filter has them.
const (
	authnTTL   = time.Minute
	allowTTL   = 5 * time.Minute
	denyTTL    = 30 * time.Second
	maxEntries = 1024
	timeout    = 10 * time.Second
)

// FilterProvider is a metricsserver.Options.FilterProvider.
func FilterProvider(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, err
	}
	g := &Guard{Tokens: authn.TokenReviews(), Access: authz.SubjectAccessReviews()}
	return g.Filter, nil
}

// TokenReviewer creates TokenReviews.
type TokenReviewer interface {
	Create(ctx context.Context, review *authenticationv1.TokenReview, opts metav1.CreateOptions) (*authenticationv1.TokenReview, error)
}

// AccessReviewer creates SubjectAccessReviews.
type AccessReviewer interface {
	Create(ctx context.Context, review *authorizationv1.SubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error)
}

// Guard authenticates and authorizes requests through the API server.
type Guard struct {
	Tokens TokenReviewer
	Access AccessReviewer
	// Now is the time source; time.Now if nil.
	Now func() time.Time

	mu    sync.Mutex
	users map[[sha256.Size]byte]cachedUser
	// decisions is keyed by user and request ("uid\x00name\x00verb\x00path").
	decisions map[string]cachedDecision
}

type cachedUser struct {
	user    *authenticationv1.UserInfo // nil: the token is not valid
	expires time.Time
}

type cachedDecision struct {
	allowed bool
	expires time.Time
}

// Filter wraps the metrics handler.
func (g *Guard) Filter(log logr.Logger, next http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token, ok := bearerToken(req)
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		user, err := g.authenticate(ctx, token)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if user == nil {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb := strings.ToLower(req.Method)
		allowed, err := g.authorize(ctx, user, verb, req.URL.Path)
		if err != nil {
			msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			log.V(4).Info("Authorization denied", "user", user.Username, "verb", verb, "path", req.URL.Path)
			http.Error(w, fmt.Sprintf("Authorization denied for user %s", user.Username), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, req)
	}), nil
}

func bearerToken(req *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// authenticate returns the token's user, or nil if the API server does not
// accept the token.
func (g *Guard) authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, error) {
	key := sha256.Sum256([]byte(token))
	now := g.now()
	g.mu.Lock()
	c, ok := g.users[key]
	g.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.user, nil
	}
	review, err := g.Tokens.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	var user *authenticationv1.UserInfo
	if review.Status.Authenticated && review.Status.Error == "" {
		user = &review.Status.User
	}
	g.mu.Lock()
	if g.users == nil || len(g.users) >= maxEntries {
		g.users = map[[sha256.Size]byte]cachedUser{}
	}
	g.users[key] = cachedUser{user: user, expires: now.Add(authnTTL)}
	g.mu.Unlock()
	return user, nil
}

// authorize asks whether user may send verb to the non-resource path.
func (g *Guard) authorize(ctx context.Context, user *authenticationv1.UserInfo, verb, path string) (bool, error) {
	key := user.UID + "\x00" + user.Username + "\x00" + verb + "\x00" + path
	now := g.now()
	g.mu.Lock()
	c, ok := g.decisions[key]
	g.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.allowed, nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review, err := g.Access.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	ttl := denyTTL
	if allowed {
		ttl = allowTTL
	}
	g.mu.Lock()
	if g.decisions == nil || len(g.decisions) >= maxEntries {
		g.decisions = map[string]cachedDecision{}
	}
	g.decisions[key] = cachedDecision{allowed: allowed, expires: now.Add(ttl)}
	g.mu.Unlock()
	return allowed, nil
}
