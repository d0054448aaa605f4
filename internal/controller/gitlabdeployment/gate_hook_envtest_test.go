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

package gitlabdeployment_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/internal/testenv"
)

// hookToken is the secret GitLab sends the hook receiver.
const hookToken = "s3cret-hook-token"

// hookedNamespace creates a namespace for one test and runs rollgate for
// it as the operator wires the GitLab webhook receiver (on a loopback
// port), with approval polling too slow to explain a release within the
// test. It returns the namespace and the receiver's URL.
func hookedNamespace(t *testing.T) (string, string) {
	t.Helper()
	e := testenv.Get(t)
	ns := e.NewNamespace(t)
	opts := testenv.TestOptions()
	opts.Gate.Polling = rollout.ApprovalPolling{Min: time.Minute, Max: time.Minute}
	opts.Gate.HookAddr = testenv.FreeAddr(t)
	opts.Gate.HookToken = []byte(hookToken)
	e.StartManager(t, opts, ns)
	return ns, "http://" + opts.Gate.HookAddr + operator.HookPath
}

// hookedGitLab is a fake GitLab whose project sends its hooks to the
// receiver of a hook manager, and staging protected with one approval
// rule for alice.
func hookedGitLab(t *testing.T, ns, hookURL string, opts ...gitlabtest.Option) *gitlabFixture {
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
	g.Expect(srv.AddHook(gitlabtest.HookSpec{Project: f.project, URL: hookURL, Token: hookToken})).To(Succeed())
	writeSecret(t, ns, srv.URL, testToken)
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
	ns, hookURL := hookedNamespace(t)
	f := hookedGitLab(t, ns, hookURL, gitlabtest.WithApprovalHooks())
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
	ns, hookURL := hookedNamespace(t)
	f := hookedGitLab(t, ns, hookURL)
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
