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

package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

func TestSpecFromAnnotations(t *testing.T) {
	g := NewWithT(t)
	spec, err := SpecFromAnnotations("web", map[string]string{
		gitlabv1alpha1.AnnotationEnvironment: "production",
		gitlabv1alpha1.AnnotationProject:     "group/web",
		gitlabv1alpha1.AnnotationSHA:         " " + strings.Repeat("ab", 20) + " ",
		gitlabv1alpha1.AnnotationRef:         "v1.2.0",
		gitlabv1alpha1.AnnotationTag:         "true",
		gitlabv1alpha1.AnnotationApproval:    "source=Record,timeout=90m",
		gitlabv1alpha1.AnnotationCredentials: "gitlab-prod",
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(spec.SHA).To(Equal(strings.Repeat("ab", 20)))
	g.Expect(spec.Tag).To(BeTrue())
	g.Expect(spec.Credentials).To(Equal("gitlab-prod"))
	g.Expect(spec.Approval.Source).To(Equal(gitlabv1alpha1.ApprovalSourceRecord))
	g.Expect(spec.Approval.Timeout.Duration).To(Equal(90 * time.Minute))
	g.Expect(ValidateSpec(&spec)).To(Succeed())
}

func TestApprovalAnnotation(t *testing.T) {
	cases := map[string]struct {
		gate *gitlabv1alpha1.ApprovalGate
		err  string
	}{
		"":                                   {},
		"false":                              {},
		"true":                               {gate: &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourcePipeline}},
		"source=pipeline,environment=prod-x": {gate: &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourcePipeline, Environment: "prod-x"}},
		"source=email":                       {err: "source \"email\" is not Pipeline or Record"},
		"timeout=soon":                       {err: "timeout \"soon\" is not a positive duration"},
		"colour=blue":                        {err: "unknown setting \"colour\""},
		"yes":                                {err: "is not key=value"},
	}
	for in, tc := range cases {
		t.Run(in, func(t *testing.T) {
			g := NewWithT(t)
			gate, err := ParseApproval(in)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(gate).To(Equal(tc.gate))
		})
	}
}

func TestValidateSpecNamesWhatToFix(t *testing.T) {
	valid := func() gitlabv1alpha1.GitLabDeploymentSpec {
		return gitlabv1alpha1.GitLabDeploymentSpec{Environment: "review/app-1", Project: "42", SHA: strings.Repeat("0", 40), Ref: "main"}
	}
	cases := []struct {
		name   string
		mutate func(*gitlabv1alpha1.GitLabDeploymentSpec)
		reason string
	}{
		{"missing sha", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.SHA = "" }, gitlabv1alpha1.ReasonInvalidSHA},
		{"short sha", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.SHA = "abc1234" }, gitlabv1alpha1.ReasonInvalidSHA},
		{"uppercase sha", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.SHA = strings.Repeat("A", 40) }, gitlabv1alpha1.ReasonInvalidSHA},
		{"missing ref", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Ref = "" }, gitlabv1alpha1.ReasonInvalidRef},
		{"ref with ..", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Ref = "a..b" }, gitlabv1alpha1.ReasonInvalidRef},
		{"missing project", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Project = "" }, gitlabv1alpha1.ReasonInvalidProject},
		{"project name only", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Project = "web" }, gitlabv1alpha1.ReasonInvalidProject},
		{"project path trick", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Project = "../x" }, gitlabv1alpha1.ReasonInvalidProject},
		{"project path part ending in .git", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Project = "group/app.git" }, gitlabv1alpha1.ReasonInvalidProject},
		{"project path too long", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Project = "g/" + strings.Repeat("a", 300) }, gitlabv1alpha1.ReasonInvalidProject},
		{"environment ending with /", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Environment = "review/" }, gitlabv1alpha1.ReasonInvalidEnvironment},
		{"environment with a colon", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Environment = "prod:eu" }, gitlabv1alpha1.ReasonInvalidEnvironment},
		{"environment too long", func(s *gitlabv1alpha1.GitLabDeploymentSpec) { s.Environment = strings.Repeat("e", 256) }, gitlabv1alpha1.ReasonInvalidEnvironment},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			spec := valid()
			tc.mutate(&spec)
			err := ValidateSpec(&spec)
			invalidErr, ok := errors.AsType[*InvalidSpecError](err)
			g.Expect(ok).To(BeTrue(), "an *InvalidSpecError: %v", err)
			g.Expect(invalidErr.Reason).To(Equal(tc.reason))
		})
	}
	spec := valid()
	NewWithT(t).Expect(ValidateSpec(&spec)).To(Succeed())
}

// FuzzAnnotations checks that no annotation value makes parsing or
// validation panic, and that what validates is what GitLab accepts in form.
func FuzzAnnotations(f *testing.F) {
	f.Add("production", "group/app", strings.Repeat("a", 40), "main", "true", "source=Record,timeout=1h")
	f.Add("", "", "", "", "", "")
	f.Add("/x/", "1", "zz", "a b", "maybe", "source=,=,")
	f.Fuzz(func(t *testing.T, env, project, sha, ref, tag, approval string) {
		spec, _ := SpecFromAnnotations("web", map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: env, gitlabv1alpha1.AnnotationProject: project,
			gitlabv1alpha1.AnnotationSHA: sha, gitlabv1alpha1.AnnotationRef: ref,
			gitlabv1alpha1.AnnotationTag: tag, gitlabv1alpha1.AnnotationApproval: approval,
		})
		if ValidateSpec(&spec) != nil {
			return
		}
		if len(spec.SHA) != 40 || spec.Environment == "" || len(spec.Environment) > 255 || spec.Ref == "" {
			t.Fatalf("accepted an invalid spec: %+v", spec)
		}
	})
}

func TestInvalidAnnotationsFailClosedInTheSpec(t *testing.T) {
	cases := []struct {
		name        string
		approval    string
		tag         string
		gated       bool
		wantReason  string
		wantGate    *gitlabv1alpha1.ApprovalGate
		wantMessage string
	}{
		{name: "no approval", gated: false},
		{name: "approval off", approval: "false", gated: false},
		{name: "approval on", approval: "true", gated: true, wantGate: DefaultGate()},
		{name: "misspelt setting", approval: "sorce=Record", gated: true, wantReason: gitlabv1alpha1.ReasonInvalidApproval,
			wantGate: DefaultGate(), wantMessage: gitlabv1alpha1.AnnotationApproval},
		{name: "unknown source", approval: "source=Email", gated: true, wantReason: gitlabv1alpha1.ReasonInvalidApproval,
			wantGate: DefaultGate(), wantMessage: `"Email"`},
		{name: "invalid tag", tag: "sure", gated: false, wantReason: gitlabv1alpha1.ReasonInvalidTag, wantMessage: gitlabv1alpha1.AnnotationTag},
		{name: "both invalid", approval: "yes", tag: "sure", gated: true, wantReason: gitlabv1alpha1.ReasonInvalidApproval,
			wantGate: DefaultGate(), wantMessage: gitlabv1alpha1.AnnotationTag},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			annotations := map[string]string{gitlabv1alpha1.AnnotationEnvironment: "production",
				gitlabv1alpha1.AnnotationApproval: tc.approval, gitlabv1alpha1.AnnotationTag: tc.tag}
			spec, err := SpecFromAnnotations("web", annotations)
			g.Expect(spec.Approval).To(Equal(tc.wantGate))
			g.Expect(spec.Tag).To(BeFalse())
			g.Expect(Gated(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: annotations}})).To(Equal(tc.gated))
			if tc.wantReason == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			invalidErr, ok := errors.AsType[*InvalidSpecError](err)
			g.Expect(ok).To(BeTrue())
			g.Expect(invalidErr.Reason).To(Equal(tc.wantReason))
			g.Expect(invalidErr.Message).To(ContainSubstring(tc.wantMessage))

			gld := &gitlabv1alpha1.GitLabDeployment{}
			MarkInvalid(gld, err)
			g.Expect(InvalidAnnotation(gld)).To(Equal(err), "the error survives on the GitLabDeployment")
			g.Expect(Validate(gld)).To(Equal(err))
		})
	}
}

func TestValuesTooLongForTheAPIAreCutAndExplained(t *testing.T) {
	g := NewWithT(t)
	spec, err := SpecFromAnnotations("web", map[string]string{
		gitlabv1alpha1.AnnotationEnvironment: "staging",
		gitlabv1alpha1.AnnotationSHA:         strings.Repeat("a", 5000),
	})
	g.Expect(err).To(HaveOccurred())
	g.Expect(ReasonOf(err)).To(Equal(gitlabv1alpha1.ReasonInvalidSHA))
	g.Expect(err.Error()).To(ContainSubstring(gitlabv1alpha1.AnnotationSHA))
	g.Expect(spec.SHA).To(HaveLen(256), "cut to what the API accepts, so that the GitLabDeployment can say why")

	spec, err = SpecFromAnnotations("web", map[string]string{
		gitlabv1alpha1.AnnotationEnvironment: "production",
		gitlabv1alpha1.AnnotationApproval:    "source=Record,environment=" + strings.Repeat("e", 300),
	})
	g.Expect(ReasonOf(err)).To(Equal(gitlabv1alpha1.ReasonInvalidApproval))
	g.Expect(spec.Approval).NotTo(BeNil(), "a bad approval setting keeps the rollout gated")

	spec = gitlabv1alpha1.GitLabDeploymentSpec{Environment: "staging", Project: "group/app", SHA: strings.Repeat("a", 40), Ref: "main",
		Credentials: "other-ns/secret"}
	g.Expect(ReasonOf(ValidateSpec(&spec))).To(Equal(gitlabv1alpha1.ReasonInvalidCredentials))
	spec.Credentials = "../secret"
	g.Expect(ReasonOf(ValidateSpec(&spec))).To(Equal(gitlabv1alpha1.ReasonInvalidCredentials))
}

func TestRefsAndApprovalSettingsGitWouldRefuse(t *testing.T) {
	g := NewWithT(t)
	spec := gitlabv1alpha1.GitLabDeploymentSpec{Environment: "staging", Project: "group/app", SHA: strings.Repeat("a", 40)}
	for _, ref := range []string{"main\nx", "main@{1}", "@", "feature/.hidden", "main.lock", "a//b", "/main", "main/", "main.", "tab\tref"} {
		spec.Ref = ref
		g.Expect(ReasonOf(ValidateSpec(&spec))).To(Equal(gitlabv1alpha1.ReasonInvalidRef), "ref %q", ref)
	}
	for _, ref := range []string{"main", "release/1.2", "v1.0.0", "feature/x-y_z"} {
		spec.Ref = ref
		g.Expect(ValidateSpec(&spec)).To(Succeed(), "ref %q", ref)
	}
	_, err := ParseApproval("source=Record,source=Pipeline")
	g.Expect(err).To(MatchError(ContainSubstring("source is set twice")))
	spec.Ref, spec.Environment = "main", "bad|env"
	g.Expect(ValidateSpec(&spec)).To(MatchError(ContainSubstring(gitlabv1alpha1.AnnotationEnvironment)))
}

func TestExpandCluster(t *testing.T) {
	g := NewWithT(t)
	spec := gitlabv1alpha1.GitLabDeploymentSpec{Environment: "production/{cluster}",
		Approval: &gitlabv1alpha1.ApprovalGate{Environment: "approve-{cluster}"}}
	g.Expect(ExpandCluster(&spec, "eu-1")).To(Succeed())
	g.Expect(spec.Environment).To(Equal("production/eu-1"))
	g.Expect(spec.Approval.Environment).To(Equal("approve-eu-1"))

	plain := gitlabv1alpha1.GitLabDeploymentSpec{Environment: "production"}
	g.Expect(ExpandCluster(&plain, "")).To(Succeed())
	g.Expect(plain.Environment).To(Equal("production"))

	missing := gitlabv1alpha1.GitLabDeploymentSpec{Environment: "production/{cluster}"}
	err := ExpandCluster(&missing, "")
	g.Expect(ReasonOf(err)).To(Equal(gitlabv1alpha1.ReasonInvalidEnvironment))
	g.Expect(err).To(MatchError(ContainSubstring("--cluster-name")))
	g.Expect(err).To(MatchError(ContainSubstring(gitlabv1alpha1.AnnotationEnvironment)))

	approval := gitlabv1alpha1.GitLabDeploymentSpec{Environment: "production", Approval: &gitlabv1alpha1.ApprovalGate{Environment: "{cluster}"}}
	g.Expect(ReasonOf(ExpandCluster(&approval, ""))).To(Equal(gitlabv1alpha1.ReasonInvalidApproval))
}
