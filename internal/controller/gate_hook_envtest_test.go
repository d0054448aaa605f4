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
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// hookCredentials is the credentials Secret only the hook manager reads,
// as its default: the suite's manager, which polls every few seconds and
// has no hook receiver, finds no "gitlab" Secret in the namespace and
// never reaches GitLab, so that it cannot release the rollout.
const hookCredentials = "gitlab-hooked"

// startHookManager runs a GitLabDeployment controller for one namespace
// whose approval polling is too slow to explain a release within the
// test, with a GitLab webhook receiver on a loopback port feeding it, as
// the operator wires them. It returns the receiver's URL.
func startHookManager(t *testing.T, ns string) string {
	t.Helper()
	g := NewWithT(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     testScheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	g.Expect(SetupIndexes(ctx, mgr)).To(Succeed())
	triggers := make(chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment], 64)
	glCfg := gitlab.DefaultConfig()
	glCfg.RequestTimeout = time.Second
	glCfg.RetryMax = -1
	glCfg.MaxRateLimitWait = -1
	g.Expect((&GitLabDeploymentReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("rollgate-hooked"),
		GitLab: gitlab.NewRegistry(glCfg),
		Credentials: &CredentialsResolver{Reader: mgr.GetAPIReader(),
			Default: types.NamespacedName{Namespace: ns, Name: hookCredentials}},
		CredentialsRetry: time.Second, GitLabRetry: 2 * time.Second,
		FinalizeTimeout: 10 * time.Second, AdoptAfter: 2 * time.Second,
		APIReader:       mgr.GetAPIReader(),
		ApprovalPolling: ApprovalPolling{Min: time.Minute, Max: time.Minute},
		Triggers:        triggers,
	}).SetupWithManager(mgr)).To(Succeed())
	mux := http.NewServeMux()
	mux.Handle("/hooks/gitlab", &GitLabHookReceiver{Reader: mgr.GetClient(), Token: []byte(hookToken), Triggers: triggers})
	srv := httptest.NewServer(mux)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		reportStop(<-done)
	})
	return srv.URL + "/hooks/gitlab"
}

// hookedGitLab is a fake GitLab whose project sends its hooks to the
// receiver of a hook manager, and staging protected with one approval
// rule for alice.
func hookedGitLab(t *testing.T, ns string, opts ...gitlabtest.Option) *gitlabFixture {
	t.Helper()
	g := NewWithT(t)
	srv := gitlabtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(gitlabtest.UserSpec{Username: "rollgate"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.AddToken(gitlabtest.TokenSpec{Token: testToken, User: "rollgate"})).To(Succeed())
	_, err = srv.AddProject(gitlabtest.ProjectSpec{Path: "group/app", AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{"rollgate": gitlabtest.Maintainer}})
	g.Expect(err).NotTo(HaveOccurred())
	f := &gitlabFixture{Server: srv, project: "group/app"}
	protectWithApprovers(t, f, "alice")
	g.Expect(srv.AddHook(gitlabtest.HookSpec{Project: f.project, URL: startHookManager(t, ns), Token: hookToken})).To(Succeed())
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: hookCredentials},
		StringData: map[string]string{"url": srv.URL, "token": testToken}}
	g.Expect(k8sClient.Create(context.Background(), secret)).To(Succeed())
	return f
}

// heldForApproval creates a gated Deployment and returns it with its
// rollout, once held for approval.
func heldForApproval(t *testing.T, ns string) (*appsv1.Deployment, *gitlabv1alpha1.GitLabDeployment) {
	t.Helper()
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	gld := awaiting(t, d)
	// Let the reconciles of the rollout's start (its record, the record's
	// own Deployment Hook) pass: GitLab is then asked again only on a hook
	// or at the next poll.
	var checked *metav1.Time
	NewWithT(t).Eventually(func(g Gomega) {
		g.Consistently(func(g Gomega) *metav1.Time {
			checked = rolloutOf(g, d).Status.Approval.LastCheckedAt
			return checked
		}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(checked))
	}).WithTimeout(gateWait).Should(Succeed())
	return d, gld
}

func TestGateHookReleasesOnApprovalEvent(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := hookedGitLab(t, ns, gitlabtest.WithApprovalHooks())
	d, gld := heldForApproval(t, ns)
	paused := func(g Gomega) bool { return getDeployment(g, d).Spec.Paused }
	g.Expect(paused(g)).To(BeTrue())

	f.decide(t, "alice", gld.Status.Record.ID, "approved", "ship it")
	// Polling is a minute away: only the approval's Deployment Hook can
	// release the rollout this soon.
	g.Eventually(paused).WithTimeout(3 * time.Second).WithPolling(50 * time.Millisecond).Should(BeFalse())
	g.Expect(rolloutOf(g, d).Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalApproved))
}

func TestGateHookWithoutApprovalEventsWaitsForPolling(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := hookedGitLab(t, ns)
	d, gld := heldForApproval(t, ns)
	paused := func(g Gomega) bool { return getDeployment(g, d).Spec.Paused }

	f.decide(t, "alice", gld.Status.Record.ID, "approved", "ship it")
	// GitLab without approval events sends no hook for an approval.
	g.Consistently(paused).WithTimeout(3 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
	f.WaitHooks()
	for _, h := range f.HookDeliveries() {
		g.Expect(string(h.Payload)).NotTo(ContainSubstring(`"status":"approved"`))
	}
}
