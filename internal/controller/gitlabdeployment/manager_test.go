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
	"crypto/sha1"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/rollout"
)

// testHistoryLimit is the history limit of the test manager (testenv.TestOptions).
const testHistoryLimit = 3

// gitlabFixture is a fake GitLab for one test, with a credentials Secret
// named "gitlab" in the test's namespace pointing at it.
type gitlabFixture struct {
	*gitlabtest.Server
	project string
}

const (
	testToken = "glpat-rollgate-test"
	testSHA   = "0123456789abcdef0123456789abcdef01234567"
)

func newGitLab(t *testing.T, ns string, opts ...func(*gitlabtest.ProjectSpec)) *gitlabFixture {
	t.Helper()
	return newGitLabServer(t, ns, nil, opts...)
}

// newGitLabServer is newGitLab with options of the fake server itself.
func newGitLabServer(t *testing.T, ns string, srvOpts []gitlabtest.Option, opts ...func(*gitlabtest.ProjectSpec)) *gitlabFixture {
	t.Helper()
	srv := gitlabtest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	g := NewWithT(t)
	_, err := srv.AddUser(gitlabtest.UserSpec{Username: "rollgate"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.AddToken(gitlabtest.TokenSpec{Token: testToken, User: "rollgate"})).To(Succeed())
	spec := gitlabtest.ProjectSpec{Path: "group/app", AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{"rollgate": gitlabtest.Maintainer}}
	for _, o := range opts {
		o(&spec)
	}
	_, err = srv.AddProject(spec)
	g.Expect(err).NotTo(HaveOccurred())
	writeSecret(t, ns, srv.URL, testToken)
	return &gitlabFixture{Server: srv, project: "group/app"}
}

// writeSecret writes the credentials Secret "gitlab" of a namespace.
func writeSecret(t *testing.T, ns, url, token string) {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gitlab"},
		StringData: map[string]string{"url": url, "token": token}}
	NewWithT(t).Expect(k8sClient.Create(context.Background(), secret)).To(Succeed())
}

// writes counts the POSTs and PUTs the fake answered with status.
func (f *gitlabFixture) writes() (posts, puts int) {
	for _, c := range f.RequestCounts() {
		switch c.Endpoint {
		case gitlabtest.EndpointCreate:
			posts += c.Count
		case gitlabtest.EndpointUpdate:
			puts += c.Count
		}
	}
	return posts, puts
}

// statuses lists the statuses of the environment's records, oldest first.
func (f *gitlabFixture) statuses(g Gomega, env string) []string {
	ds, err := f.Deployments(f.project, env)
	g.Expect(err).NotTo(HaveOccurred())
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Status)
	}
	return out
}

// newDeployment creates an annotated Deployment; envtest has no Deployment
// controller, so the test moves its status by hand.
func newDeployment(t *testing.T, ns, name string, annotations map[string]string) *appsv1.Deployment {
	t.Helper()
	base := map[string]string{
		gitlabv1alpha1.AnnotationEnvironment: "staging",
		gitlabv1alpha1.AnnotationProject:     "group/app",
		gitlabv1alpha1.AnnotationSHA:         testSHA,
		gitlabv1alpha1.AnnotationRef:         "main",
	}
	for k, v := range annotations {
		if v == "" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: base},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
	NewWithT(t).Expect(k8sClient.Create(context.Background(), d)).To(Succeed())
	return d
}

// rollout moves the Deployment's status as its controller would.
type rolloutStep func(*appsv1.Deployment)

func progressing(d *appsv1.Deployment) {
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2, ReadyReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}}}
}

func completed(d *appsv1.Deployment) {
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}
}

func deadlineExceededStatus(d *appsv1.Deployment) {
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2, ReadyReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}}
}

func setStatus(t *testing.T, d *appsv1.Deployment, step rolloutStep) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		step(d)
		return k8sClient.Status().Update(context.Background(), d)
	}).Should(Succeed())
}

// changeTemplate gives the Deployment a new pod template: a new rollout.
func changeTemplate(t *testing.T, d *appsv1.Deployment, image string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		// A new template normally deploys a new commit.
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = shaOf(image)
		return k8sClient.Update(context.Background(), d)
	}).Should(Succeed())
}

// shaOf makes up a commit SHA for an image.
func shaOf(image string) string {
	return fmt.Sprintf("%x", sha1.Sum([]byte(image)))
}

// rolloutOf returns the GitLabDeployment of the Deployment's current template.
func rolloutOf(g Gomega, d *appsv1.Deployment) *gitlabv1alpha1.GitLabDeployment {
	cur := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), cur)).To(Succeed())
	gld := &gitlabv1alpha1.GitLabDeployment{}
	key := types.NamespacedName{Namespace: d.Namespace, Name: rollout.Name(d.Name, rollout.TemplateHash(&cur.Spec.Template), 0)}
	g.Expect(k8sClient.Get(context.Background(), key, gld)).To(Succeed())
	return gld
}

func condition(gld *gitlabv1alpha1.GitLabDeployment, t string) *metav1.Condition {
	for i := range gld.Status.Conditions {
		if gld.Status.Conditions[i].Type == t {
			return &gld.Status.Conditions[i]
		}
	}
	return nil
}

// warnings lists the reasons of Warning Events about an object.
func warnings(g Gomega, ns, name string) []string {
	return eventReasons(g, ns, name, corev1.EventTypeWarning)
}

// eventsAbout lists the reasons of all Events about an object.
func eventsAbout(g Gomega, ns, name string) []string { return eventReasons(g, ns, name, "") }

func eventReasons(g Gomega, ns, name, eventType string) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && (eventType == "" || e.Type == eventType) {
			out = append(out, e.Reason)
		}
	}
	return out
}

func describe(gld *gitlabv1alpha1.GitLabDeployment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s record=%+v", gld.Status.Phase, gld.Status.Record)
	for _, c := range gld.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// expectRecords waits until the records of the tests' environment
// (staging) have these statuses, oldest first.
func expectRecords(t *testing.T, gl *gitlabFixture, statuses ...string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) { g.Expect(gl.statuses(g, "staging")).To(Equal(statuses)) }, settle).Should(Succeed())
}

// runningRollout starts a rollout of a new Deployment "web" in a namespace
// of its own and waits until GitLab records it running.
func runningRollout(t *testing.T) (string, *gitlabFixture, *appsv1.Deployment) {
	t.Helper()
	ns := newNamespace(t)
	gl := newGitLab(t, ns)
	d := newDeployment(t, ns, "web", nil)
	setStatus(t, d, progressing)
	expectRecords(t, gl, "running")
	return ns, gl, d
}
