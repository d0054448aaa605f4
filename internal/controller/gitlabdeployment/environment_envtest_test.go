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

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// environmentRequests counts the requests rollgate made of the
// Environments and cluster agents APIs.
func (f *gitlabFixture) environmentRequests() int {
	n := 0
	for _, e := range []string{gitlabtest.EndpointEnvironmentList, gitlabtest.EndpointEnvironmentGet,
		gitlabtest.EndpointEnvironmentEdit, gitlabtest.EndpointEnvironmentCreate,
		gitlabtest.EndpointAgentList, gitlabtest.EndpointAgentGet} {
		n += f.CountRequests(e, 0)
	}
	return n
}

// staging returns the fake's environment "staging", the tests' environment.
func (f *gitlabFixture) staging(g Gomega) gitlabtest.Environment {
	const name = "staging"
	envs, err := f.Environments(f.project)
	g.Expect(err).NotTo(HaveOccurred())
	for _, e := range envs {
		if e.Name == name {
			return e
		}
	}
	g.Expect(name).To(BeEmpty(), "no environment %q in GitLab", name)
	return gitlabtest.Environment{}
}

// expectEnvironmentSynced waits until the Deployment's current rollout has
// its record and the EnvironmentSynced condition with that status and
// reason, and returns the rollout.
func expectEnvironmentSynced(t *testing.T, d *appsv1.Deployment, status metav1.ConditionStatus, reason string) *gitlabv1alpha1.GitLabDeployment {
	t.Helper()
	var gld *gitlabv1alpha1.GitLabDeployment
	NewWithT(t).Eventually(func(g Gomega) {
		gld = rolloutOf(g, d)
		g.Expect(gld.Status.Record.ID).NotTo(BeZero(), describe(gld))
		c := condition(gld, gitlabv1alpha1.ConditionEnvironmentSynced)
		g.Expect(c).NotTo(BeNil(), describe(gld))
		g.Expect(c.Status).To(Equal(status), describe(gld))
		g.Expect(c.Reason).To(Equal(reason), describe(gld))
	}, settle).Should(Succeed())
	return gld
}

// setAnnotation changes one annotation of the Deployment (no new rollout).
func setAnnotation(t *testing.T, d *appsv1.Deployment, key, value string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Annotations[key] = value
		return k8sClient.Update(context.Background(), d)
	}).Should(Succeed())
}

// The tier, external URL, agent (by name) and namespace are written to the
// GitLab environment once; the next rollout with the same annotations asks
// nothing of GitLab's Environments API.
func TestEnvironmentMetadataIsWrittenOncePerChange(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	_, err := gl.AddAgent(gitlabtest.AgentSpec{Project: gl.project, Name: "prod-agent", ID: 7})
	g.Expect(err).NotTo(HaveOccurred())
	d := newDeployment(t, ns, "web", map[string]string{
		gitlabv1alpha1.AnnotationTier:        "production",
		gitlabv1alpha1.AnnotationExternalURL: "https://shop.example.com",
		gitlabv1alpha1.AnnotationAgent:       "prod-agent",
	})
	setStatus(t, d, progressing)
	first := expectEnvironmentSynced(t, d, metav1.ConditionTrue, gitlabv1alpha1.ReasonEnvironmentSynced)

	env := gl.staging(g)
	g.Expect(env.Tier).To(Equal("production"))
	g.Expect(env.ExternalURL).To(Equal("https://shop.example.com"))
	g.Expect(env.ClusterAgentID).To(Equal(int64(7)))
	g.Expect(env.KubernetesNamespace).To(Equal(ns))
	g.Expect(gl.CountRequests(gitlabtest.EndpointEnvironmentEdit, 200)).To(Equal(1), "one write")
	g.Expect(first.Status.Environment).NotTo(BeNil())
	g.Expect(first.Status.Environment.Applied).To(Equal(gitlabv1alpha1.AppliedEnvironment{
		Tier: "production", ExternalURL: "https://shop.example.com", AgentID: 7, KubernetesNamespace: ns}))
	g.Expect(eventsAbout(g, ns, first.Name)).To(ContainElement("EnvironmentUpdated"))
	// Not part of Ready: the rollout is still in progress.
	g.Expect(condition(first, gitlabv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))

	setStatus(t, d, completed)
	expectRecords(t, gl, "success")
	before := gl.environmentRequests()

	changeTemplate(t, d, "app:2")
	setStatus(t, d, completed)
	expectRecords(t, gl, "success", "success")
	second := expectEnvironmentSynced(t, d, metav1.ConditionTrue, gitlabv1alpha1.ReasonEnvironmentSynced)
	g.Expect(second.Name).NotTo(Equal(first.Name))
	g.Expect(second.Status.Environment.Desired).To(Equal(first.Status.Environment.Desired))
	g.Expect(gl.environmentRequests()).To(Equal(before), "no environment request for a rollout with the same annotations")

	// A change of annotation is one more write, without a new rollout.
	setAnnotation(t, d, gitlabv1alpha1.AnnotationExternalURL, "https://www.shop.example.com")
	g.Eventually(func(g Gomega) {
		g.Expect(gl.staging(g).ExternalURL).To(Equal("https://www.shop.example.com"))
	}, settle).Should(Succeed())
	g.Expect(gl.CountRequests(gitlabtest.EndpointEnvironmentEdit, 200)).To(Equal(2))
}

// A value someone else set in GitLab is kept and reported, until the
// overwrite annotation names its field.
func TestEnvironmentValueSetInGitLabIsKeptUnlessOverwritten(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	_, err := gl.AddEnvironment(gitlabtest.EnvironmentSpec{Project: gl.project, Name: "staging",
		ExternalURL: "https://old.example.com"})
	g.Expect(err).NotTo(HaveOccurred())
	d := newDeployment(t, ns, "web", map[string]string{
		gitlabv1alpha1.AnnotationTier:        "staging",
		gitlabv1alpha1.AnnotationExternalURL: "https://shop.example.com",
	})
	setStatus(t, d, progressing)
	gld := expectEnvironmentSynced(t, d, metav1.ConditionFalse, gitlabv1alpha1.ReasonEnvironmentConflict)
	msg := condition(gld, gitlabv1alpha1.ConditionEnvironmentSynced).Message
	for _, want := range []string{"external-url", "https://old.example.com", "https://shop.example.com",
		gitlabv1alpha1.AnnotationEnvironmentOverwrite} {
		g.Expect(msg).To(ContainSubstring(want))
	}
	g.Expect(gl.staging(g).ExternalURL).To(Equal("https://old.example.com"), "kept")
	g.Expect(gld.Status.Environment.Conflicts).To(HaveLen(1))
	g.Eventually(func(g Gomega) {
		g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(gitlabv1alpha1.ReasonEnvironmentConflict))
	}, settle).Should(Succeed())
	// GitLab's guess of the tier from the name is not someone's choice.
	g.Expect(gld.Status.Environment.Applied.Tier).To(BeEmpty(), "staging is GitLab's guess already: nothing to write")

	setAnnotation(t, d, gitlabv1alpha1.AnnotationEnvironmentOverwrite, "external-url")
	expectEnvironmentSynced(t, d, metav1.ConditionTrue, gitlabv1alpha1.ReasonEnvironmentSynced)
	g.Expect(gl.staging(g).ExternalURL).To(Equal("https://shop.example.com"))
	g.Expect(countOf(warnings(g, ns, gld.Name), gitlabv1alpha1.ReasonEnvironmentConflict)).To(Equal(1), "one Warning per change")
}

// An annotation rollgate cannot use, or an agent GitLab does not know, is
// reported on the EnvironmentSynced condition and in a Warning Event; the
// record is made all the same and Ready is not affected.
func TestEnvironmentProblemsNeverBlockTheRecord(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		reason      string
	}{
		{"tier GitLab does not have", map[string]string{gitlabv1alpha1.AnnotationTier: "prod"}, gitlabv1alpha1.ReasonInvalidTier},
		{"URL that is not http", map[string]string{gitlabv1alpha1.AnnotationExternalURL: "javascript:alert(1)"}, gitlabv1alpha1.ReasonInvalidExternalURL},
		{"agent not registered", map[string]string{gitlabv1alpha1.AnnotationAgent: "no-such-agent"}, gitlabv1alpha1.ReasonAgentNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			gl := newGitLab(t, ns)
			d := newDeployment(t, ns, "web", tc.annotations)
			setStatus(t, d, completed)
			expectRecords(t, gl, "success")
			gld := expectEnvironmentSynced(t, d, metav1.ConditionFalse, tc.reason)
			g.Eventually(func(g Gomega) {
				gld = rolloutOf(g, d)
				g.Expect(condition(gld, gitlabv1alpha1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue), describe(gld))
				g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(tc.reason))
			}, settle).Should(Succeed())
			g.Expect(condition(gld, gitlabv1alpha1.ConditionStalled)).To(BeNil())
			g.Expect(gl.CountRequests(gitlabtest.EndpointEnvironmentEdit, 0)).To(BeZero())
		})
	}
}

// Without environment annotations there is no EnvironmentSynced condition
// and no request to the Environments API.
func TestNoEnvironmentAnnotationsNoCondition(t *testing.T) {
	g := NewWithT(t)
	_, gl, d := runningRollout(t)
	setStatus(t, d, completed)
	expectRecords(t, gl, "success")
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, d).Status.Shipped).NotTo(BeNil())
	}, settle).Should(Succeed())
	g.Expect(condition(rolloutOf(g, d), gitlabv1alpha1.ConditionEnvironmentSynced)).To(BeNil())
	g.Expect(gl.environmentRequests()).To(BeZero())
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
