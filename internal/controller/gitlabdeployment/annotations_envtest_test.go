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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

// A mistake in the approval or tag annotation never lets a rollout through
// unnoticed: it is held (approval) and stalled with a reason naming the
// annotation, and nothing is written to GitLab.
func TestInvalidAnnotationsFailClosed(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		reason      string
		held        bool
		mentions    []string
	}{
		{"misspelt approval setting", map[string]string{gitlabv1alpha1.AnnotationApproval: "sourc=Record"},
			gitlabv1alpha1.ReasonInvalidApproval, true, []string{gitlabv1alpha1.AnnotationApproval, `"sourc"`}},
		{"approval timeout that is not a duration", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record,timeout=2 hours"},
			gitlabv1alpha1.ReasonInvalidApproval, true, []string{gitlabv1alpha1.AnnotationApproval, "timeout"}},
		{"approval that is not true or settings", map[string]string{gitlabv1alpha1.AnnotationApproval: "yes"},
			gitlabv1alpha1.ReasonInvalidApproval, true, []string{gitlabv1alpha1.AnnotationApproval}},
		{"tag that is not a boolean", map[string]string{gitlabv1alpha1.AnnotationTag: "release"},
			gitlabv1alpha1.ReasonInvalidTag, false, []string{gitlabv1alpha1.AnnotationTag, `"release"`}},
		{"both invalid", map[string]string{gitlabv1alpha1.AnnotationApproval: "on", gitlabv1alpha1.AnnotationTag: "maybe"},
			gitlabv1alpha1.ReasonInvalidApproval, true, []string{gitlabv1alpha1.AnnotationApproval, gitlabv1alpha1.AnnotationTag}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			f := newGitLab(t, ns)
			d := newDeployment(t, ns, "web", tc.annotations)
			g.Expect(getDeployment(g, d).Spec.Paused).To(Equal(tc.held), "paused by the admission webhook")

			var gld *gitlabv1alpha1.GitLabDeployment
			g.Eventually(func(g Gomega) {
				gld = rolloutOf(g, d)
				stalled := condition(gld, gitlabv1alpha1.ConditionStalled)
				g.Expect(stalled).NotTo(BeNil(), describe(gld))
				g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(stalled.Reason).To(Equal(tc.reason))
				for _, m := range tc.mentions {
					g.Expect(stalled.Message).To(ContainSubstring(m))
				}
				g.Expect(warnings(g, ns, d.Name)).To(ContainElement(tc.reason), "a Warning Event on the Deployment")
				g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(tc.reason), "a Warning Event on the GitLabDeployment")
			}).WithTimeout(gateWait).Should(Succeed())
			g.Expect(gld.Annotations).To(HaveKeyWithValue(gitlabv1alpha1.AnnotationInvalid, HavePrefix(tc.reason+": ")))
			if tc.held {
				g.Expect(gld.Spec.Approval).To(Equal(rollout.DefaultGate()), "the default gate stands in for the invalid one")
			}

			// Still held after the controllers have acted, and only a bypass releases it.
			cur := getDeployment(g, d)
			g.Expect(cur.Spec.Paused).To(Equal(tc.held))
			if tc.held {
				cur.Spec.Paused = false
				err := k8sClient.Update(context.Background(), cur)
				g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "unpausing without approval: %v", err)
			}
			g.Consistently(func(g Gomega) {
				posts, puts := f.writes()
				g.Expect(posts+puts).To(BeZero(), "no GitLab write for an invalid rollout")
			}).WithTimeout(gateWait / 10).Should(Succeed())
		})
	}
}

// Fixing the annotation and starting a new rollout gives a rollout with the
// intended gate.
func TestFixedApprovalAnnotationGatesTheNextRollout(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	newGitLab(t, ns)
	d := newDeployment(t, ns, "api", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Rekord"})
	g.Eventually(func(g Gomega) {
		stalled := condition(rolloutOf(g, d), gitlabv1alpha1.ConditionStalled)
		g.Expect(stalled).NotTo(BeNil())
		g.Expect(stalled.Reason).To(Equal(gitlabv1alpha1.ReasonInvalidApproval))
	}).WithTimeout(gateWait).Should(Succeed())

	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
		cur.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
		return k8sClient.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue(), "the new template is held")
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationInvalid))
		g.Expect(gld.Spec.Approval.Source).To(Equal(gitlabv1alpha1.ApprovalSourceRecord))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionStalled)).To(BeNil(), describe(gld))
		// staging has no approval rules here: the Record source never reads
		// that as approval, and says why.
		g.Expect(gld.Status.Approval).NotTo(BeNil(), describe(gld))
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalAwaiting), describe(gld))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved)).To(HaveField("Reason", gitlabv1alpha1.ReasonApprovalRulesNotFound))
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue())
	}).WithTimeout(gateWait).Should(Succeed())
}
