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
	"encoding/json"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/testenv"
)

var (
	shaV1 = strings.Repeat("1", 40)
	shaV2 = strings.Repeat("2", 40)
	shaV3 = strings.Repeat("3", 40)
)

// deployCommit gives the Deployment a new pod template deploying sha.
func deployCommit(t *testing.T, d *appsv1.Deployment, image, sha string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = sha
		return k8sClient.Update(context.Background(), d)
	}).Should(Succeed())
}

// eventNotes lists the notes of Events with this reason about an object.
func eventNotes(g Gomega, ns, name, reason string) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// What a rollout shipped: the merge requests GitLab linked to its record
// when it succeeded, read once per successful rollout and never while it
// runs, in status.shipped and a Shipped Event.
func TestShippedMergeRequests(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	gl := newGitLab(t, ns, func(p *gitlabtest.ProjectSpec) {
		p.History = map[string][]string{"main": {shaV1, shaV2, shaV3}}
	})
	d := newDeployment(t, ns, "web", map[string]string{gitlabv1alpha1.AnnotationSHA: shaV1})
	setStatus(t, d, completed)
	expectRecords(t, gl, "success")
	g.Eventually(func(g Gomega) {
		shipped := rolloutOf(g, d).Status.Shipped
		g.Expect(shipped).NotTo(BeNil())
		g.Expect(shipped.Count).To(BeZero(), "nothing merged yet")
	}, settle).Should(Succeed())
	g.Expect(gl.CountRequests(gitlabtest.EndpointMergeRequests, 0)).To(Equal(1))

	for _, mr := range []gitlabtest.MergeRequestSpec{
		{Project: gl.project, Title: "Fix login", TargetBranch: "main", MergeCommitSHA: shaV2},
		{Project: gl.project, Title: "Add a cache", TargetBranch: "main", MergeCommitSHA: shaV3},
	} {
		_, err := gl.AddMergeRequest(mr)
		g.Expect(err).NotTo(HaveOccurred())
	}
	deployCommit(t, d, "app:3", shaV3)
	setStatus(t, d, progressing)
	expectRecords(t, gl, "success", "running")
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, d).Status.Record.Status).To(Equal("running"))
	}, settle).Should(Succeed())
	g.Expect(gl.CountRequests(gitlabtest.EndpointMergeRequests, 0)).To(Equal(1), "none while running")
	g.Expect(rolloutOf(g, d).Status.Shipped).To(BeNil())

	setStatus(t, d, completed)
	expectRecords(t, gl, "success", "success")
	var gld *gitlabv1alpha1.GitLabDeployment
	g.Eventually(func(g Gomega) {
		gld = rolloutOf(g, d)
		g.Expect(gld.Status.Shipped).NotTo(BeNil())
		g.Expect(eventNotes(g, ns, gld.Name, "Shipped")).To(ConsistOf("Shipped !2 Add a cache, !1 Fix login"))
	}, settle).Should(Succeed())
	g.Expect(gld.Status.Shipped.Count).To(Equal(int32(2)))
	g.Expect(gld.Status.Shipped.MergeRequests).To(HaveLen(2))
	g.Expect(gld.Status.Shipped.MergeRequests[0]).To(And(HaveField("IID", int64(2)), HaveField("Title", "Add a cache"),
		HaveField("WebURL", HaveSuffix("/group/app/-/merge_requests/2"))))
	g.Expect(gl.CountRequests(gitlabtest.EndpointMergeRequests, 0)).To(Equal(2), "one read per successful rollout")

	g.Expect(warnings(g, ns, gld.Name)).To(BeEmpty())

	// kubectl get gld shows the count only with -o wide (priority 1).
	table := gldTable(t, ns)
	col := slices.IndexFunc(table.ColumnDefinitions, func(c metav1.TableColumnDefinition) bool { return c.Name == "Shipped" })
	g.Expect(col).To(BeNumerically(">=", 0), "a Shipped column")
	g.Expect(table.ColumnDefinitions[col].Priority).To(Equal(int32(1)))
	counts := make([]any, 0, len(table.Rows))
	for _, row := range table.Rows {
		counts = append(counts, row.Cells[col])
	}
	g.Expect(counts).To(ConsistOf(BeNumerically("==", 0), BeNumerically("==", 2)))
}

// gldTable asks the API server for the namespace's GitLabDeployments as
// the table kubectl get prints.
func gldTable(t *testing.T, ns string) *metav1.Table {
	t.Helper()
	g := NewWithT(t)
	cfg := rest.CopyConfig(testenv.Get(t).Config)
	cfg.GroupVersion = &gitlabv1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	data, err := rc.Get().Namespace(ns).Resource("gitlabdeployments").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		Do(context.Background()).Raw()
	g.Expect(err).NotTo(HaveOccurred())
	table := &metav1.Table{}
	g.Expect(json.Unmarshal(data, table)).To(Succeed())
	return table
}
