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
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/rollout"
)

func validRecord(ns string) *gitlabv1alpha1.GitLabDeployment {
	return &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "web-"},
		Spec: gitlabv1alpha1.GitLabDeploymentSpec{
			WorkloadRef: gitlabv1alpha1.WorkloadReference{Name: "web"},
			Project:     "group/web",
			Environment: "production",
			SHA:         strings.Repeat("a1", 20),
			Ref:         "main",
		},
	}
}

func TestCRDAcceptsAndDefaultsAGitLabDeployment(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	gld := validRecord(newNamespace(t))
	gld.Spec.Approval = &gitlabv1alpha1.ApprovalGate{}
	g.Expect(k8sClient.Create(ctx, gld)).To(Succeed())

	got := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(gld), got)).To(Succeed())
	g.Expect(got.Spec.WorkloadRef.Kind).To(Equal("Deployment"))
	g.Expect(got.Spec.WorkloadRef.APIVersion).To(Equal("apps/v1"))
	g.Expect(got.Spec.Approval.Source).To(Equal(gitlabv1alpha1.ApprovalSourcePipeline))

	g.Eventually(func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(gld), got); err != nil {
			return err
		}
		got.Status.Record.IID = 7
		return k8sClient.Status().Update(ctx, got)
	}).Should(Succeed())
}

func TestCRDRejectsMalformedObjects(t *testing.T) {
	ns := newNamespace(t)
	cases := []struct {
		name    string
		mutate  func(*gitlabv1alpha1.GitLabDeployment)
		message string
	}{
		{"unknown approval source", func(d *gitlabv1alpha1.GitLabDeployment) {
			d.Spec.Approval = &gitlabv1alpha1.ApprovalGate{Source: "Email"}
		}, "spec.approval.source"},
		{"workload of another kind", func(d *gitlabv1alpha1.GitLabDeployment) { d.Spec.WorkloadRef.Kind = "StatefulSet" },
			"spec.workloadRef.kind"},
		{"environment over 1024 characters", func(d *gitlabv1alpha1.GitLabDeployment) { d.Spec.Environment = strings.Repeat("e", 1025) },
			"spec.environment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			gld := validRecord(ns)
			tc.mutate(gld)
			err := k8sClient.Create(context.Background(), gld)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tc.message))
		})
	}
}

func TestCRDKeepsTheRecordIdentityImmutable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	gld := validRecord(newNamespace(t))
	g.Expect(k8sClient.Create(ctx, gld)).To(Succeed())

	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(gld), gld)).To(Succeed())
		gld.Spec.SHA = strings.Repeat("b2", 20)
		err := k8sClient.Update(ctx, gld)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("a new commit is a new rollout"))
	}).Should(Succeed())
}

func TestSamplesAreValid(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "gitlab_v1alpha1_gitlabdeployment.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	gld := &gitlabv1alpha1.GitLabDeployment{}
	g.Expect(yaml.UnmarshalStrict(data, gld)).To(Succeed())
	gld.Namespace = ns
	g.Expect(rollout.ValidateSpec(&gld.Spec)).To(Succeed())
	g.Expect(k8sClient.Create(context.Background(), gld)).To(Succeed())

	data, err = os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "deployment_annotated.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	deploy := &appsv1.Deployment{}
	g.Expect(yaml.UnmarshalStrict(data, deploy)).To(Succeed())
	spec, err := rollout.SpecFromAnnotations(deploy.Name, deploy.Annotations)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rollout.ValidateSpec(&spec)).To(Succeed())
	g.Expect(spec.Approval.Environment).To(Equal("production-approval"))
}
