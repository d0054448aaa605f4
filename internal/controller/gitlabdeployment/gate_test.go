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
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/internal/testenv"
)

// gateWait covers a few approval polls (5s at first, jittered).
const gateWait = 30 * time.Second

// protectWithApprovers protects staging with one approval rule per
// approver, each needing one approval, and gives each approver a token.
func protectWithApprovers(t *testing.T, f *gitlabFixture, approvers ...string) {
	t.Helper()
	g := NewWithT(t)
	rules := make([]gitlabtest.ApprovalRuleSpec, 0, len(approvers))
	for _, name := range approvers {
		_, err := f.AddUser(gitlabtest.UserSpec{Username: name})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(f.AddToken(gitlabtest.TokenSpec{Token: "tok-" + name, User: name})).To(Succeed())
		g.Expect(f.AddMember(f.project, name, gitlabtest.Reporter)).To(Succeed())
		rules = append(rules, gitlabtest.ApprovalRuleSpec{AccessRuleSpec: gitlabtest.AccessRuleSpec{User: name}, RequiredApprovals: 1})
	}
	g.Expect(f.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: f.project, Name: "staging", ApprovalRules: rules})).To(Succeed())
}

// decide approves or rejects a GitLab deployment as user, through the API.
func (f *gitlabFixture) decide(t *testing.T, user string, id int64, status, comment string) {
	t.Helper()
	form := url.Values{"status": {status}, "comment": {comment}}
	u := f.APIURL() + "/projects/" + url.PathEscape(f.project) + "/deployments/" + strconv.FormatInt(id, 10) + "/approval"
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	req.Header.Set("PRIVATE-TOKEN", "tok-"+user)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	NewWithT(t).Expect(resp.StatusCode).To(Equal(http.StatusCreated), "%s %s deployment %d", user, status, id)
}

func getDeployment(g Gomega, d *appsv1.Deployment) *appsv1.Deployment {
	cur := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), cur)).To(Succeed())
	return cur
}

// rolloutsIn lists the GitLabDeployments of the namespace.
func rolloutsIn(g Gomega, ns string) []gitlabv1alpha1.GitLabDeployment {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	return list.Items
}

// awaiting waits until the Deployment's current rollout waits for approval
// and returns it.
func awaiting(t *testing.T, d *appsv1.Deployment) *gitlabv1alpha1.GitLabDeployment {
	t.Helper()
	var gld *gitlabv1alpha1.GitLabDeployment
	NewWithT(t).Eventually(func(g Gomega) {
		gld = rolloutOf(g, d)
		g.Expect(gld.Status.Approval).NotTo(BeNil(), describe(gld))
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalAwaiting))
		g.Expect(gld.Status.Approval.DeploymentID).NotTo(BeZero(), describe(gld))
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseAwaitingApproval))
	}).WithTimeout(gateWait).Should(Succeed())
	return gld
}

func TestGateRecordSourceHoldsUntilEveryRuleApproves(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice", "bob")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})

	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue(), "created paused by the webhook")
	gld := awaiting(t, d)
	g.Expect(gld.Status.Approval.PendingCount).To(BeEquivalentTo(2))
	g.Expect(f.statuses(g, "staging")).To(Equal([]string{"running"}))

	cur := getDeployment(g, d)
	cur.Spec.Paused = false
	err := k8sClient.Update(context.Background(), cur)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "unpausing a held Deployment: %v", err)

	f.decide(t, "alice", gld.Status.Record.ID, "approved", "LGTM")
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Approval.PendingCount).To(BeEquivalentTo(1))
		g.Expect(gld.Status.Approval.Rules).To(ConsistOf(
			gitlabv1alpha1.ApprovalRuleStatus{Name: "alice", Required: 1, Approved: 1, Pending: 0},
			gitlabv1alpha1.ApprovalRuleStatus{Name: "bob", Required: 1, Approved: 0, Pending: 1}))
		g.Expect(gld.Status.Approval.Approvals).To(ConsistOf(And(
			HaveField("User", "alice"), HaveField("Status", "approved"), HaveField("Comment", "LGTM"))))
		g.Expect(eventsAbout(g, ns, gld.Name)).To(ContainElement("ApprovalGiven"))
	}).WithTimeout(gateWait).Should(Succeed())
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue(), "one rule is still pending")

	f.decide(t, "bob", gld.Status.Record.ID, "approved", "")
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalApproved))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved)).To(HaveField("Status", metav1.ConditionTrue))
		cur := getDeployment(g, d)
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationHeldTemplate))
	}).WithTimeout(gateWait).Should(Succeed())

	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(f.statuses(g, "staging")).To(Equal([]string{"success"}))
	}).WithTimeout(gateWait).Should(Succeed())
}

// rejectedRollout records a first rollout, gates the Deployment, and has
// alice reject its second template; rollgate restores the first.
func rejectedRollout(t *testing.T) (ns string, f *gitlabFixture, d *appsv1.Deployment, approvedHash, rejectedHash string) {
	t.Helper()
	g := NewWithT(t)
	ns = newNamespace(t)
	f = newGitLab(t, ns)
	d = newDeployment(t, ns, "web", nil)
	setStatus(t, d, completed)
	approvedHash = rollout.TemplateHash(&getDeployment(g, d).Spec.Template)
	g.Eventually(func(g Gomega) {
		g.Expect(f.statuses(g, "staging")).To(Equal([]string{"success"}))
	}).WithTimeout(gateWait).Should(Succeed())
	ownReplicaSet(t, getDeployment(g, d), approvedHash)

	protectWithApprovers(t, f, "alice")
	gateAndChangeTemplate(t, d, "app:2")
	gld := awaiting(t, d)
	rejectedHash = gld.Status.PodTemplateHash
	f.decide(t, "alice", gld.Status.Record.ID, "rejected", "not today")

	g.Eventually(func(g Gomega) {
		cur := getDeployment(g, d)
		g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(approvedHash))
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(f.statuses(g, "staging")).To(Equal([]string{"success", "canceled"}))
		gld := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rollout.Name("web", rejectedHash, 0)}, gld)).To(Succeed())
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalRejected))
		g.Expect(gld.Status.Phase).To(Equal(gitlabv1alpha1.PhaseCanceled))
	}).WithTimeout(gateWait).Should(Succeed())
	return ns, f, d, approvedHash, rejectedHash
}

func TestGateRejectionRestoresAndRemembersTheTemplate(t *testing.T) {
	g := NewWithT(t)
	ns, f, d, _, rejectedHash := rejectedRollout(t)
	g.Consistently(func(g Gomega) {
		g.Expect(rolloutsIn(g, ns)).To(HaveLen(2), "no rollout for the restored template")
	}).WithTimeout(2 * time.Second).Should(Succeed())

	// A GitOps tool applies the rejected template again: held, no new round.
	changeTemplate(t, d, "app:2")
	g.Eventually(func(g Gomega) {
		gld := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rollout.Name("web", rejectedHash, 0)}, gld)).To(Succeed())
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved)).To(HaveField("Reason", gitlabv1alpha1.ReasonRejectedTemplateHeld))
		g.Expect(warnings(g, ns, "web")).To(ContainElement(gitlabv1alpha1.ReasonRejectedTemplateHeld))
	}).WithTimeout(gateWait).Should(Succeed())
	cur := getDeployment(g, d)
	g.Expect(cur.Spec.Paused).To(BeTrue())
	g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(rejectedHash))
	g.Expect(rolloutsIn(g, ns)).To(HaveLen(2))
	posts, _ := f.writes()
	g.Expect(posts).To(Equal(2))

	// A different template opens a new approval round.
	changeTemplate(t, d, "app:3")
	awaiting(t, d)
	g.Expect(rolloutsIn(g, ns)).To(HaveLen(3))
}

func TestGatePipelineSourceFollowsTheBlockedJob(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "true"})

	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved)).To(HaveField("Reason", gitlabv1alpha1.ReasonWaitingForPipeline), describe(gld))
	}).WithTimeout(gateWait).Should(Succeed())

	job, err := f.CreateJob(gitlabtest.JobSpec{Project: f.project, Environment: "staging", Ref: "main", SHA: testSHA, User: "rollgate"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(job.DeploymentStatus).To(Equal("blocked"))
	gld := awaiting(t, d)
	g.Expect(gld.Status.Approval.DeploymentID).To(Equal(job.DeploymentID))
	g.Expect(getDeployment(g, d).Spec.Paused).To(BeTrue())
	g.Expect(f.statuses(g, "staging")).To(Equal([]string{"blocked"}), "no record of rollgate's while held")

	f.decide(t, "alice", job.DeploymentID, "approved", "ship it")
	g.Eventually(func(g Gomega) {
		g.Expect(getDeployment(g, d).Spec.Paused).To(BeFalse())
		g.Expect(f.statuses(g, "staging")).To(Equal([]string{"blocked", "running"}))
	}).WithTimeout(gateWait).Should(Succeed())
	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(f.statuses(g, "staging")).To(Equal([]string{"blocked", "success"}))
	}).WithTimeout(gateWait).Should(Succeed())
}

func TestGateBypassReleasesAndIsRecorded(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	f := newGitLab(t, ns)
	protectWithApprovers(t, f, "alice")
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationApproval: "source=Record"})
	awaiting(t, d)

	dana := asUser(t, "dana-sre")
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Spec.Paused = false
		cur.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "hotfix for incident 42"
		return dana.Update(context.Background(), cur)
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Approval.State).To(Equal(gitlabv1alpha1.ApprovalBypassed))
		g.Expect(gld.Status.Approval.Bypass).To(Equal(&gitlabv1alpha1.ApprovalBypass{User: "dana-sre", Reason: "hotfix for incident 42"}))
		g.Expect(condition(gld, gitlabv1alpha1.ConditionApproved).Message).To(Equal("Released without approval by dana-sre: hotfix for incident 42"))
		g.Expect(warnings(g, ns, "web")).To(ContainElement("ApprovalBypassed"))
		g.Expect(bypassNotes(g, ns)).To(ContainElement(ContainSubstring("bypassed by dana-sre: hotfix for incident 42")))
		cur := getDeployment(g, d)
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(cur.Annotations).NotTo(HaveKey(gitlabv1alpha1.AnnotationApprovalBypass))
	}).WithTimeout(gateWait).Should(Succeed())
}

// gateAndChangeTemplate turns the gate on (Record source) and changes the
// template in one update, as a commit that adds the gate would.
func gateAndChangeTemplate(t *testing.T, d *appsv1.Deployment, image string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf(image)
		d.Spec.Template.Spec.Containers[0].Image = image
		return k8sClient.Update(context.Background(), d)
	}).Should(Succeed())
}

// ownReplicaSet creates the ReplicaSet the Deployment controller would have
// made for the template (envtest runs no Deployment controller).
func ownReplicaSet(t *testing.T, d *appsv1.Deployment, hash string) {
	t.Helper()
	template := d.Spec.Template.DeepCopy()
	template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name + "-" + hash, Labels: template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
				Controller: new(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, Template: *template,
			Selector: &metav1.LabelSelector{MatchLabels: template.Labels}},
	}
	NewWithT(t).Expect(k8sClient.Create(context.Background(), rs)).To(Succeed())
}

// A rejected template that runs anyway, because the admission webhook was not
// called when it was applied again, is rolled back once more.
func TestGateRestoresARejectedTemplateThatRanWithoutTheWebhook(t *testing.T) {
	g := NewWithT(t)
	ns, _, d, approvedHash, rejectedHash := rejectedRollout(t)
	// rollgate's own user is never held by the webhook: as if it were down.
	unheld, err := client.New(testenv.Get(t).RollgateConfig, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() error {
		cur := getDeployment(g, d)
		cur.Spec.Template.Spec.Containers[0].Image = "app:2"
		cur.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf("app:2")
		return unheld.Update(context.Background(), cur)
	}).Should(Succeed())
	cur := getDeployment(g, d)
	g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(rejectedHash))
	g.Expect(cur.Spec.Paused).To(BeFalse())
	setStatus(t, d, completed)

	g.Eventually(func(g Gomega) {
		cur := getDeployment(g, d)
		gld := &gitlabv1alpha1.GitLabDeployment{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rollout.Name("web", rejectedHash, 0)}, gld)).To(Succeed())
		g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(approvedHash), "%s %+v %v", describe(gld), cur.Status, warnings(g, ns, gld.Name))
		g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(gitlabv1alpha1.ReasonHeldLate))
	}).WithTimeout(gateWait).Should(Succeed())
}
