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

package controller

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
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
