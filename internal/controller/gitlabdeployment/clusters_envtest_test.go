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

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/testenv"
)

// cluster is one rollgate with its --cluster-name, watching a namespace of
// its own, with a GitLab token of its own.
type cluster struct {
	name, ns, user string
}

// newClusters runs one rollgate per cluster name against one fake GitLab,
// each with a token of its own user (rollgate-<name>), all Maintainers of
// group/app.
func newClusters(t *testing.T, names ...string) (*gitlabFixture, []cluster) {
	t.Helper()
	g := NewWithT(t)
	srv := gitlabtest.NewServer()
	t.Cleanup(srv.Close)
	members := map[string]gitlabtest.AccessLevel{}
	out := make([]cluster, 0, len(names))
	e := testenv.Get(t)
	for _, name := range names {
		c := cluster{name: name, ns: e.NewNamespace(t), user: "rollgate-" + name}
		_, err := srv.AddUser(gitlabtest.UserSpec{Username: c.user})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(srv.AddToken(gitlabtest.TokenSpec{Token: "glpat-" + c.user, User: c.user})).To(Succeed())
		members[c.user] = gitlabtest.Maintainer
		writeSecret(t, c.ns, srv.URL, "glpat-"+c.user)
		opts := testenv.TestOptions()
		opts.ClusterName = name
		e.StartManager(t, opts, c.ns)
		out = append(out, c)
	}
	_, err := srv.AddProject(gitlabtest.ProjectSpec{Path: "group/app", AcceptAnySHA: true, AcceptAnyRef: true, Members: members})
	g.Expect(err).NotTo(HaveOccurred())
	return &gitlabFixture{Server: srv, project: "group/app"}, out
}

// usersOf lists the users of the environment's records, oldest first.
func (f *gitlabFixture) usersOf(g Gomega, env string) []string {
	ds, err := f.Deployments(f.project, env)
	g.Expect(err).NotTo(HaveOccurred())
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.User+"="+d.Status)
	}
	return out
}

// Two clusters rolling out the same commit to one shared environment:
// each records its own rollout under its own GitLab user, neither cancels
// the other's record, and each GitLabDeployment says which cluster it is.
func TestClustersShareOneEnvironment(t *testing.T) {
	g := NewWithT(t)
	gl, clusters := newClusters(t, "eu-1", "us-1")
	env := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"}
	eu := newDeployment(t, clusters[0].ns, "web", env)
	setStatus(t, eu, progressing)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=running"}))
	}, settle).Should(Succeed())

	us := newDeployment(t, clusters[1].ns, "web", env)
	setStatus(t, us, progressing)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=running", "rollgate-us-1=running"}))
	}, settle).Should(Succeed())

	setStatus(t, us, completed)
	setStatus(t, eu, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=success", "rollgate-us-1=success"}))
	}, settle).Should(Succeed())
	for i, d := range []*appsv1.Deployment{eu, us} {
		gld := rolloutOf(g, d)
		g.Expect(gld.Status.Cluster).To(Equal(clusters[i].name))
		g.Expect(eventNotes(g, d.Namespace, gld.Name, "RecordCreated")).To(ConsistOf(ContainSubstring("(cluster " + clusters[i].name + ")")))
	}
	g.Expect(gl.CountRequests(gitlabtest.EndpointList, 0)).To(BeZero(), "nothing was looked for, nothing adopted")
}

// After a POST whose answer was lost, a cluster looks for its record in
// GitLab: a record of the same commit made by another cluster's token is
// not taken for its own; it records its rollout anew and leaves the other
// cluster's record alone.
func TestAdoptionSkipsAnotherClustersRecord(t *testing.T) {
	g := NewWithT(t)
	gl, clusters := newClusters(t, "eu-1", "us-1")
	env := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production"}
	eu := newDeployment(t, clusters[0].ns, "web", env)
	setStatus(t, eu, progressing)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=running"}))
	}, settle).Should(Succeed())

	// us-1's POST never reaches GitLab, and the connection drops.
	gl.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultDrop, Endpoint: gitlabtest.EndpointCreate, Count: 1})
	us := newDeployment(t, clusters[1].ns, "web", env)
	setStatus(t, us, progressing)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=running", "rollgate-us-1=running"}))
		gld := rolloutOf(g, us)
		g.Expect(gld.Status.Record.ID).NotTo(BeZero(), describe(gld))
		g.Expect(gld.Status.Record.ID).NotTo(Equal(rolloutOf(g, eu).Status.Record.ID))
	}, settle).Should(Succeed())
	g.Expect(gl.CountRequests(gitlabtest.EndpointList, 200)).To(BeNumerically(">=", 1), "us-1 looked for its record")
	g.Expect(gl.CountRequests(gitlabtest.EndpointCurrentUser, 200)).To(Equal(1), "its user, read once")
	g.Expect(eventsAbout(g, clusters[1].ns, rolloutOf(g, us).Name)).NotTo(ContainElement("RecordAdopted"))

	setStatus(t, eu, completed)
	setStatus(t, us, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production")).To(Equal([]string{"rollgate-eu-1=success", "rollgate-us-1=success"}))
	}, settle).Should(Succeed())
}

// {cluster} in the environment annotation gives each cluster its own
// environment in a folder; without --cluster-name it is an invalid
// annotation: the rollout is stalled, with a Warning, and not recorded.
func TestClusterPlaceholder(t *testing.T) {
	g := NewWithT(t)
	gl, clusters := newClusters(t, "eu-1")
	env := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production/{cluster}"}
	d := newDeployment(t, clusters[0].ns, "web", env)
	setStatus(t, d, completed)
	g.Eventually(func(g Gomega) {
		g.Expect(gl.usersOf(g, "production/eu-1")).To(Equal([]string{"rollgate-eu-1=success"}))
	}, settle).Should(Succeed())
	g.Expect(rolloutOf(g, d).Spec.Environment).To(Equal("production/eu-1"))

	ns := newNamespace(t)
	writeSecret(t, ns, gl.URL, "glpat-rollgate-eu-1")
	plain := newDeployment(t, ns, "web", env)
	setStatus(t, plain, completed)
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, plain)
		stalled := condition(gld, gitlabv1alpha1.ConditionStalled)
		g.Expect(stalled).NotTo(BeNil(), describe(gld))
		g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(stalled.Reason).To(Equal(gitlabv1alpha1.ReasonInvalidEnvironment))
		g.Expect(stalled.Message).To(ContainSubstring("--cluster-name"))
		g.Expect(warnings(g, ns, plain.Name)).To(ContainElement(gitlabv1alpha1.ReasonInvalidEnvironment))
		g.Expect(warnings(g, ns, gld.Name)).To(ContainElement(gitlabv1alpha1.ReasonInvalidEnvironment))
	}, settle).Should(Succeed())
	g.Expect(gl.usersOf(g, "production/{cluster}")).To(BeEmpty())
}
