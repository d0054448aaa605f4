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

package metricsauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiServer answers reviews as an API server would: one valid token,
// whose user may get /metrics and nothing else.
type apiServer struct {
	tokenReviews, accessReviews int
	fail                        bool
}

func (a *apiServer) Create(_ context.Context, r *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	a.tokenReviews++
	if a.fail {
		return nil, errors.New("connection refused")
	}
	if r.Spec.Token == "good" {
		r.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
			Username: "system:serviceaccount:monitoring:prometheus", UID: "u1", Groups: []string{"system:serviceaccounts"}}}
	}
	return r, nil
}

type accessReviews struct{ *apiServer }

func (a accessReviews) Create(_ context.Context, r *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	a.accessReviews++
	na := r.Spec.NonResourceAttributes
	r.Status.Allowed = r.Spec.User == "system:serviceaccount:monitoring:prometheus" && r.Spec.UID == "u1" &&
		na != nil && na.Path == "/metrics" && na.Verb == "get" && r.Spec.ResourceAttributes == nil
	return r, nil
}

func newHandler(t *testing.T, api *apiServer, now *time.Time) http.Handler {
	t.Helper()
	g := &Guard{Tokens: api, Access: accessReviews{api}, Now: func() time.Time { return *now }}
	h, err := g.Filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("rollgate_build_info 1\n"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, method, path, authorization string) int {
	req := httptest.NewRequestWithContext(context.Background(), method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestOnlyAnAuthorizedTokenReadsTheMetrics(t *testing.T) {
	now := time.Now()
	h := newHandler(t, &apiServer{}, &now)
	cases := []struct {
		name, method, path, authorization string
		want                              int
	}{
		{"no token", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, "/metrics", "Basic Z29vZDp4", http.StatusUnauthorized},
		{"empty bearer token", http.MethodGet, "/metrics", "Bearer ", http.StatusUnauthorized},
		{"token the API server rejects", http.MethodGet, "/metrics", "Bearer bad", http.StatusUnauthorized},
		{"valid token", http.MethodGet, "/metrics", "Bearer good", http.StatusOK},
		{"scheme in lower case", http.MethodGet, "/metrics", "bearer good", http.StatusOK},
		{"valid token, another path", http.MethodGet, "/debug/pprof", "Bearer good", http.StatusForbidden},
		{"valid token, another verb", http.MethodPost, "/metrics", "Bearer good", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(h, tc.method, tc.path, tc.authorization); got != tc.want {
				t.Errorf("%s %s with %q: status %d, want %d", tc.method, tc.path, tc.authorization, got, tc.want)
			}
		})
	}
}

func TestAnswersAreCachedForAWhile(t *testing.T) {
	api := &apiServer{}
	now := time.Now()
	h := newHandler(t, api, &now)
	for range 4 { // a minute of scrapes every 15 s
		if got := get(h, http.MethodGet, "/metrics", "Bearer good"); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
		now = now.Add(14 * time.Second)
	}
	if api.tokenReviews != 1 || api.accessReviews != 1 {
		t.Errorf("a minute of scrapes cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 1", api.tokenReviews, api.accessReviews)
	}
	now = now.Add(authnTTL)
	get(h, http.MethodGet, "/metrics", "Bearer good")
	if api.tokenReviews != 2 {
		t.Errorf("the token was not reviewed again after %s (%d reviews)", authnTTL, api.tokenReviews)
	}
}

func TestAnAPIServerErrorIsNotCached(t *testing.T) {
	api := &apiServer{fail: true}
	now := time.Now()
	h := newHandler(t, api, &now)
	if got := get(h, http.MethodGet, "/metrics", "Bearer good"); got != http.StatusInternalServerError {
		t.Fatalf("status %d while the API server is unreachable, want 500", got)
	}
	api.fail = false
	if got := get(h, http.MethodGet, "/metrics", "Bearer good"); got != http.StatusOK {
		t.Errorf("status %d once the API server answers again, want 200", got)
	}
}
