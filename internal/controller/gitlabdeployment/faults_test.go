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
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/testenv"
)

// expectStalled waits until the rollout of Deployment "web" shows reason
// on its Stalled condition, with Ready False, and as a Warning Event.
func expectStalled(t *testing.T, ns, reason string) {
	t.Helper()
	g := NewWithT(t)
	d := deploymentKey(ns, "web")
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		c := condition(gld, gitlabv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil(), describe(gld))
		g.Expect(c.Reason).To(Equal(reason), describe(gld))
		expectExplained(g, gld, c)
		g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(reason))
	}, settle).Should(Succeed())
}

// expectExplained checks what a user reads on a rollout whose condition c
// names a problem: Ready False, and a message without the token.
func expectExplained(g Gomega, gld *gitlabv1alpha1.GitLabDeployment, c *metav1.Condition) {
	g.Expect(c.Message).NotTo(ContainSubstring(testToken))
	g.Expect(condition(gld, gitlabv1alpha1.ConditionReady).Status).To(BeEquivalentTo("False"), describe(gld))
}

// rolloutWatch keeps every version of the namespace's GitLabDeployments
// that the API server sends, so that a condition which lasts only until
// the next retry is seen however briefly it was there.
type rolloutWatch struct {
	mu   sync.Mutex
	seen []*gitlabv1alpha1.GitLabDeployment
}

// watchRollouts starts a watch on the GitLabDeployments of a namespace;
// start it before the rollout, so that no version is missed.
func watchRollouts(t *testing.T, ns string) *rolloutWatch {
	t.Helper()
	wc, err := client.NewWithWatch(testenv.Get(t).Config, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(t.Context(), &gitlabv1alpha1.GitLabDeploymentList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	rw := &rolloutWatch{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if gld, ok := ev.Object.(*gitlabv1alpha1.GitLabDeployment); ok {
				rw.mu.Lock()
				rw.seen = append(rw.seen, gld)
				rw.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); <-done })
	return rw
}

// expectRetried waits until the watched rollout of Deployment "web" has
// shown reason on its Reconciling condition, with Ready False, and as a
// Warning Event; the condition may be gone again once a retry succeeded.
func expectRetried(t *testing.T, rw *rolloutWatch, ns, reason string) {
	t.Helper()
	g := NewWithT(t)
	var name string
	g.Eventually(func(g Gomega) {
		name = rolloutOf(g, deploymentKey(ns, "web")).Name
		rw.mu.Lock()
		defer rw.mu.Unlock()
		var shown []string
		for _, gld := range rw.seen {
			c := condition(gld, gitlabv1alpha1.ConditionReconciling)
			if gld.Name != name || c == nil || c.Reason != reason {
				continue
			}
			expectExplained(g, gld, c)
			shown = append(shown, describe(gld))
		}
		g.Expect(shown).NotTo(BeEmpty(), "no version of %s showed %s", name, reason)
	}, settle).Should(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(warnings(g, ns, name)).To(ContainElement(reason)) }, settle).Should(Succeed())
}

func deploymentKey(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestInvalidInputIsReportedWithoutAnyGitLabRequest(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		reason      string
	}{
		{"missing sha", map[string]string{gitlabv1alpha1.AnnotationSHA: ""}, gitlabv1alpha1.ReasonInvalidSHA},
		{"malformed sha", map[string]string{gitlabv1alpha1.AnnotationSHA: "HEAD"}, gitlabv1alpha1.ReasonInvalidSHA},
		{"missing ref", map[string]string{gitlabv1alpha1.AnnotationRef: ""}, gitlabv1alpha1.ReasonInvalidRef},
		{"missing project", map[string]string{gitlabv1alpha1.AnnotationProject: ""}, gitlabv1alpha1.ReasonInvalidProject},
		{"invalid environment name", map[string]string{gitlabv1alpha1.AnnotationEnvironment: "prod:eu"}, gitlabv1alpha1.ReasonInvalidEnvironment},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			gl := newGitLab(t, ns)
			d := newDeployment(t, ns, "web", tc.annotations)
			setStatus(t, d, progressing)
			expectStalled(t, ns, tc.reason)
			NewWithT(t).Expect(gl.Requests()).To(BeEmpty(), "invalid input causes no GitLab request")
		})
	}
}

func TestGitLabRefusalsStallTheRollout(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		project     func(*gitlabtest.ProjectSpec)
		reason      string
	}{
		{"unknown project", map[string]string{gitlabv1alpha1.AnnotationProject: "group/missing"}, nil, gitlabv1alpha1.ReasonProjectNotFound},
		{"ref not in the repository", map[string]string{gitlabv1alpha1.AnnotationRef: "feature-x"},
			func(p *gitlabtest.ProjectSpec) {
				p.AcceptAnyRef, p.Branches = false, map[string]string{"main": testSHA}
			}, gitlabv1alpha1.ReasonRefNotFound},
		{"commit not in the repository", nil,
			func(p *gitlabtest.ProjectSpec) {
				p.AcceptAnySHA, p.AcceptAnyRef = false, false
				p.Branches = map[string]string{"main": "89abcdef0123456789abcdef0123456789abcdef"}
			}, gitlabv1alpha1.ReasonCommitNotFound},
		{"too little permission", nil,
			func(p *gitlabtest.ProjectSpec) { p.Members["rollgate"] = gitlabtest.Reporter }, gitlabv1alpha1.ReasonForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			var opts []func(*gitlabtest.ProjectSpec)
			if tc.project != nil {
				opts = append(opts, tc.project)
			}
			gl := newGitLab(t, ns, opts...)
			d := newDeployment(t, ns, "web", tc.annotations)
			setStatus(t, d, progressing)
			expectStalled(t, ns, tc.reason)
			ds, _ := gl.Deployments(gl.project, "staging")
			NewWithT(t).Expect(ds).To(BeEmpty())
		})
	}
}

func TestCredentialProblemsAreNamedAndRecoverWhenFixed(t *testing.T) {
	t.Run("missing secret", func(t *testing.T) {
		ns := newNamespace(t)
		d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationCredentials: "gitlab-prod"})
		setStatus(t, d, progressing)
		expectStalled(t, ns, gitlabv1alpha1.ReasonCredentialsNotFound)
		g := NewWithT(t)
		gld := rolloutOf(g, d)
		g.Expect(condition(gld, gitlabv1alpha1.ConditionStalled).Message).To(ContainSubstring(ns + "/gitlab-prod"))
	})
	t.Run("secret without token", func(t *testing.T) {
		ns := newNamespace(t)
		writeSecret(t, ns, "https://gitlab.example.com", "")
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectStalled(t, ns, gitlabv1alpha1.ReasonCredentialsInvalid)
	})
	t.Run("wrong token, then rotated", func(t *testing.T) {
		g := NewWithT(t)
		ns := newNamespace(t)
		gl := newGitLab(t, ns)
		secret := &corev1.Secret{}
		g.Expect(k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "gitlab"}, secret)).To(Succeed())
		secret.Data["token"] = []byte("glpat-wrong")
		g.Expect(k8sClient.Update(context.Background(), secret)).To(Succeed())
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectStalled(t, ns, gitlabv1alpha1.ReasonCredentialsInvalid)
		g.Expect(gl.statuses(g, "staging")).To(BeEmpty())

		secret.Data["token"] = []byte(testToken)
		g.Expect(k8sClient.Update(context.Background(), secret)).To(Succeed())
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"running"})) }, settle).Should(Succeed())
	})
}

func TestGitLabOutagesAreRetriedWithoutDuplicates(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		ns := newNamespace(t)
		gl := newGitLab(t, ns)
		rw := watchRollouts(t, ns)
		gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultError, Status: 503, Endpoint: gitlabtest.EndpointCreate, Count: 3})
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectRetried(t, rw, ns, gitlabv1alpha1.ReasonGitLabUnavailable)
		g := NewWithT(t)
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"running"})) }, settle).Should(Succeed())
		g.Eventually(func(g Gomega) {
			g.Expect(condition(rolloutOf(g, d), gitlabv1alpha1.ConditionRecordSynced).Status).To(BeEquivalentTo("True"))
		}, settle).Should(Succeed())
	})
	t.Run("429", func(t *testing.T) {
		ns := newNamespace(t)
		gl := newGitLab(t, ns)
		rw := watchRollouts(t, ns)
		gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultThrottle, Count: 1, RetryAfter: gitlabtest.Duration(time.Second)})
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectRetried(t, rw, ns, gitlabv1alpha1.ReasonRateLimited)
		g := NewWithT(t)
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"running"})) }, settle).Should(Succeed())
	})
	t.Run("answer to the POST lost", func(t *testing.T) {
		ns := newNamespace(t)
		gl := newGitLab(t, ns)
		// GitLab creates the record, but its answer never reaches rollgate.
		gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultLoseAnswer, Endpoint: gitlabtest.EndpointCreate, Count: 1})
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		g := NewWithT(t)
		g.Eventually(func(g Gomega) {
			gld := rolloutOf(g, d)
			g.Expect(gld.Status.Record.ID).NotTo(BeZero(), describe(gld))
		}, settle).Should(Succeed())
		setStatus(t, d, completed)
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"success"})) }, settle).Should(Succeed())
		posts, _ := gl.writes()
		g.Expect(posts).To(Equal(1), "the record was adopted, not created twice")
		g.Expect(eventsAbout(g, ns, rolloutOf(g, d).Name)).To(ContainElement("RecordAdopted"))
	})
}
