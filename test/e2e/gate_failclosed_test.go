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

package e2e

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/rollout"
)

// testRecordSourceFailsClosed: the Record source never reads "no pending
// approvals" as approval, neither on an environment without approval rules
// nor on a GitLab that computes approvals only for CI jobs.
func (e *gateEnv) testRecordSourceFailsClosed(t *testing.T) {
	t.Run("EnvironmentWithoutApprovalRules", func(t *testing.T) {
		e.expectHeldWithoutApprovals(t, e.namespace(t), "canary")
	})
	t.Run("GitLabComputingApprovalsOnlyForJobs", func(t *testing.T) {
		older := gitlabtest.NewServer(gitlabtest.WithJobApprovalsOnly())
		t.Cleanup(older.Close)
		seedGate(t, older)
		g := NewWithT(t)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gate-older-"}}
		g.Expect(e.k8s.Create(t.Context(), ns)).To(Succeed())
		g.Expect(e.k8s.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "gitlab"},
			StringData: map[string]string{"url": older.URL, "token": "tok-rollgate"}})).To(Succeed())
		e.expectHeldWithoutApprovals(t, ns.Name, "production")
	})
}

// expectHeldWithoutApprovals applies a gated Deployment to env with the
// Record source and checks that it stays held, says why, and that no Pod
// of it ever exists.
func (e *gateEnv) expectHeldWithoutApprovals(t *testing.T, ns, env string) {
	g := NewWithT(t)
	ctx := t.Context()
	stop := e.watchHeld(t, ns)
	g.Expect(e.k8s.Create(ctx, gated(ns, "web", env, "source=Record", sha1))).To(Succeed())
	hash := rollout.TemplateHash(&e.deployment(g, ctx, ns, "web").Spec.Template)
	g.Eventually(func(g Gomega) {
		gld := e.rollout(g, ctx, ns, "web", hash)
		c := apimeta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionApproved)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(gitlabv1alpha1.ReasonApprovalRulesNotFound))
		g.Expect(gld.Status.Record.Status).To(Equal("running"), "the record exists for approvers to act on")
		g.Expect(e.deployment(g, ctx, ns, "web").Spec.Paused).To(BeTrue())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	// Several polls pass (the test manager polls every few hundred
	// milliseconds) and the rollout stays held.
	g.Consistently(func(g Gomega) {
		g.Expect(e.deployment(g, ctx, ns, "web").Spec.Paused).To(BeTrue())
	}).WithTimeout(3 * time.Second).WithPolling(poll).Should(Succeed())
	g.Expect(stop()).To(BeZero(), "no ReplicaSet or Pod of a template GitLab never approved")
}
