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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// expectProblem waits until the rollout of Deployment "web" shows reason on its conditions
// (Stalled when stalled, else Reconciling) and as a Warning Event.
func expectProblem(t *testing.T, ns, reason string, stalled bool) {
	t.Helper()
	g := NewWithT(t)
	cond := gitlabv1alpha1.ConditionReconciling
	if stalled {
		cond = gitlabv1alpha1.ConditionStalled
	}
	d := deploymentKey(ns, "web")
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		c := condition(gld, cond)
		g.Expect(c).NotTo(BeNil(), describe(gld))
		g.Expect(c.Reason).To(Equal(reason), describe(gld))
		g.Expect(c.Message).NotTo(ContainSubstring(testToken))
		ready := condition(gld, gitlabv1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(reason))
	}, settle).Should(Succeed())
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
			expectProblem(t, ns, tc.reason, true)
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
			expectProblem(t, ns, tc.reason, true)
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
		expectProblem(t, ns, gitlabv1alpha1.ReasonCredentialsNotFound, true)
		g := NewWithT(t)
		gld := rolloutOf(g, d)
		g.Expect(condition(gld, gitlabv1alpha1.ConditionStalled).Message).To(ContainSubstring(ns + "/gitlab-prod"))
	})
	t.Run("secret without token", func(t *testing.T) {
		ns := newNamespace(t)
		writeSecret(t, ns, "https://gitlab.example.com", "")
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectProblem(t, ns, gitlabv1alpha1.ReasonCredentialsInvalid, true)
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
		expectProblem(t, ns, gitlabv1alpha1.ReasonCredentialsInvalid, true)
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
		gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultError, Status: 503, Endpoint: gitlabtest.EndpointCreate, Count: 3})
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectProblem(t, ns, gitlabv1alpha1.ReasonGitLabUnavailable, false)
		g := NewWithT(t)
		g.Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal([]string{"running"})) }, settle).Should(Succeed())
		g.Eventually(func(g Gomega) {
			g.Expect(condition(rolloutOf(g, d), gitlabv1alpha1.ConditionRecordSynced).Status).To(BeEquivalentTo("True"))
		}, settle).Should(Succeed())
	})
	t.Run("429", func(t *testing.T) {
		ns := newNamespace(t)
		gl := newGitLab(t, ns)
		gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultThrottle, Count: 1, RetryAfter: gitlabtest.Duration(time.Second)})
		d := newDeployment(t, ns, "web", nil)
		setStatus(t, d, progressing)
		expectProblem(t, ns, gitlabv1alpha1.ReasonRateLimited, false)
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
