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

package gitlabhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

const (
	hookToken = "s3cret-hook-token"
	testSHA   = "0123456789abcdef0123456789abcdef01234567"
)

// testScheme knows GitLabDeployments, for the fake client.
var testScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(gitlabv1alpha1.AddToScheme(s))
	return s
}()

type hookTriggers = chan event.TypedGenericEvent[*gitlabv1alpha1.GitLabDeployment]

// hookRollout is a gated rollout of group/app (project 42) at testSHA.
func hookRollout(name string, mutate func(*gitlabv1alpha1.GitLabDeployment)) *gitlabv1alpha1.GitLabDeployment {
	gld := &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: gitlabv1alpha1.GitLabDeploymentSpec{Environment: "production", Project: "group/app", SHA: testSHA, Ref: "main",
			Approval: &gitlabv1alpha1.ApprovalGate{Source: gitlabv1alpha1.ApprovalSourcePipeline}},
	}
	if mutate != nil {
		mutate(gld)
	}
	return gld
}

// awaitingHookDeployment makes a rollout wait on GitLab deployment 77.
func awaitingHookDeployment(gld *gitlabv1alpha1.GitLabDeployment) {
	gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting, DeploymentID: 77}
}

// newHookReceiver serves a receiver over the given rollouts.
func newHookReceiver(t *testing.T, triggers hookTriggers, funcs interceptor.Funcs, objs ...client.Object) *httptest.Server {
	t.Helper()
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
	srv := httptest.NewServer(&Receiver{Reader: reader, Token: []byte(hookToken), Triggers: triggers})
	t.Cleanup(srv.Close)
	return srv
}

// sendHook posts a payload and returns the status and body.
func sendHook(t *testing.T, url, method, token, kind, payload string) (int, string) {
	t.Helper()
	g := NewWithT(t)
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(payload))
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("X-Gitlab-Token", token)
	}
	if kind != "" {
		req.Header.Set("X-Gitlab-Event", kind)
	}
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

// drain returns the names of the rollouts triggered so far.
func drain(triggers hookTriggers) []string {
	var names []string
	for {
		select {
		case e := <-triggers:
			names = append(names, e.Object.Name)
		default:
			slices.Sort(names)
			return names
		}
	}
}

const blockedJobHook = `{"object_kind":"deployment","status":"canceled","deployment_id":77,"environment":"production",
	"short_sha":"01234567","project":{"id":42,"path_with_namespace":"group/app"}}`

func TestReceiverChecksTheToken(t *testing.T) {
	cases := []struct {
		name   string
		method string
		token  string
		status int
	}{
		{"no token", http.MethodPost, "", http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "s3cret-hook-tokem", http.StatusUnauthorized},
		{"token prefix", http.MethodPost, "s3cret", http.StatusUnauthorized},
		{"token with a suffix", http.MethodPost, hookToken + "x", http.StatusUnauthorized},
		{"right token", http.MethodPost, hookToken, http.StatusOK},
		{"GET", http.MethodGet, hookToken, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			triggers := make(hookTriggers, 8)
			srv := newHookReceiver(t, triggers, interceptor.Funcs{}, hookRollout("waiting", awaitingHookDeployment))
			status, body := sendHook(t, srv.URL, tc.method, tc.token, deploymentHookEvent, blockedJobHook)
			g.Expect(status).To(Equal(tc.status))
			g.Expect(body).NotTo(ContainSubstring(hookToken[:6]), "an answer never shows the token")
			g.Expect(len(body)).To(BeNumerically("<", 32), "an answer carries no detail")
			if tc.status == http.StatusOK {
				g.Expect(drain(triggers)).To(Equal([]string{"waiting"}))
			} else {
				g.Expect(drain(triggers)).To(BeEmpty(), "a refused request triggers nothing")
			}
		})
	}
}

func TestReceiverWithoutTokenRefusesAll(t *testing.T) {
	g := NewWithT(t)
	triggers := make(hookTriggers, 8)
	srv := httptest.NewServer(&Receiver{Reader: fake.NewClientBuilder().WithScheme(testScheme).Build(), Triggers: triggers})
	t.Cleanup(srv.Close)
	status, _ := sendHook(t, srv.URL, http.MethodPost, "", deploymentHookEvent, blockedJobHook)
	g.Expect(status).To(Equal(http.StatusUnauthorized))
}

func TestReceiverAnswersBadPayloads(t *testing.T) {
	cases := []struct {
		name   string
		kind   string
		body   string
		status int
	}{
		{"push hook", "Push Hook", `{"object_kind":"push"}`, http.StatusNoContent},
		{"pipeline hook", "Pipeline Hook", `not even json`, http.StatusNoContent},
		{"no event header", "", blockedJobHook, http.StatusNoContent},
		{"deployment header, other kind", deploymentHookEvent, `{"object_kind":"build","deployment_id":77}`, http.StatusNoContent},
		{"not json", deploymentHookEvent, `deployment 77 canceled`, http.StatusBadRequest},
		{"truncated json", deploymentHookEvent, `{"object_kind":"deployment",`, http.StatusBadRequest},
		{"empty body", deploymentHookEvent, ``, http.StatusBadRequest},
		{"wrong types", deploymentHookEvent, `{"object_kind":"deployment","deployment_id":"77"}`, http.StatusBadRequest},
		{"too large", deploymentHookEvent, `{"object_kind":"deployment","status":"` + strings.Repeat("x", maxHookBody) + `"}`,
			http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			triggers := make(hookTriggers, 8)
			srv := newHookReceiver(t, triggers, interceptor.Funcs{}, hookRollout("waiting", awaitingHookDeployment))
			status, body := sendHook(t, srv.URL, http.MethodPost, hookToken, tc.kind, tc.body)
			g.Expect(status).To(Equal(tc.status), body)
			g.Expect(drain(triggers)).To(BeEmpty())
		})
	}
}

func TestReceiverTriggersOnlyTheRolloutsWaitingOnIt(t *testing.T) {
	rollouts := []client.Object{
		hookRollout("by-id", awaitingHookDeployment),
		hookRollout("by-commit", func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Spec.Project = "42"
			gld.Spec.Approval.Environment = "production-approval"
		}),
		hookRollout("record-by-commit", func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Spec.Approval.Source = gitlabv1alpha1.ApprovalSourceRecord
			gld.Spec.Environment = "staging"
			gld.Status.Approval = &gitlabv1alpha1.ApprovalStatus{State: gitlabv1alpha1.ApprovalAwaiting}
		}),
		hookRollout("approved", func(gld *gitlabv1alpha1.GitLabDeployment) {
			awaitingHookDeployment(gld)
			gld.Status.Approval.State = gitlabv1alpha1.ApprovalApproved
		}),
		hookRollout("not-gated", func(gld *gitlabv1alpha1.GitLabDeployment) { gld.Spec.Approval = nil }),
		hookRollout("other-project", func(gld *gitlabv1alpha1.GitLabDeployment) {
			awaitingHookDeployment(gld)
			gld.Spec.Project = "group/other"
		}),
		hookRollout("other-commit", func(gld *gitlabv1alpha1.GitLabDeployment) {
			gld.Spec.SHA = strings.Repeat("f", 40)
			gld.Spec.Approval.Environment = "production-approval"
		}),
	}
	hook := func(id, project int64, path, env, sha string) string {
		return `{"object_kind":"deployment","status":"running","deployment_id":` + strconv.FormatInt(id, 10) + `,"environment":"` + env +
			`","short_sha":"` + sha + `","project":{"id":` + strconv.FormatInt(project, 10) + `,"path_with_namespace":"` + path + `"}}`
	}
	cases := []struct {
		name string
		hook string
		want []string
	}{
		{"the deployment carrying the approvals", hook(77, 42, "group/app", "production", "ffffffff"), []string{"by-id"}},
		{"the commit, project by ID only", hook(899, 42, "", "production-approval", "01234567"), []string{"by-commit"}},
		{"the same deployment ID in another project", hook(77, 43, "group/elsewhere", "production", ""), nil},
		{"the commit in the approval environment", hook(900, 42, "group/app", "production-approval", "01234567"), []string{"by-commit"}},
		{"the commit in the record's environment", hook(901, 42, "GROUP/App", "staging", "0123456"), []string{"record-by-commit"}},
		{"the commit in another environment", hook(902, 42, "group/app", "review/x", "01234567"), nil},
		{"a prefix too short to tell", hook(903, 42, "group/app", "production-approval", "0"), nil},
		{"no commit, no known deployment", hook(904, 42, "group/app", "production-approval", ""), nil},
		{"another project's commit", hook(905, 7, "group/other", "production-approval", "01234567"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			triggers := make(hookTriggers, len(rollouts))
			srv := newHookReceiver(t, triggers, interceptor.Funcs{}, rollouts...)
			status, _ := sendHook(t, srv.URL, http.MethodPost, hookToken, deploymentHookEvent, tc.hook)
			g.Expect(status).To(Equal(http.StatusOK))
			g.Expect(drain(triggers)).To(Equal(tc.want))
		})
	}
}

func TestReceiverAsksForARetryWhenItCannotTrigger(t *testing.T) {
	failingList := interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("cache not synced")
	}}
	cases := []struct {
		name  string
		funcs interceptor.Funcs
	}{
		{"the rollouts cannot be listed", failingList},
		{"nobody takes the trigger before the request ends", interceptor.Funcs{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			reader := fake.NewClientBuilder().WithScheme(testScheme).WithInterceptorFuncs(tc.funcs).
				WithObjects(hookRollout("waiting", awaitingHookDeployment)).Build()
			// Nobody reads the channel.
			h := &Receiver{Reader: reader, Token: []byte(hookToken), Triggers: make(hookTriggers)}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/hooks/gitlab", strings.NewReader(blockedJobHook))
			req.Header.Set("X-Gitlab-Token", hookToken)
			req.Header.Set("X-Gitlab-Event", deploymentHookEvent)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			g.Expect(rec.Code).To(Equal(http.StatusServiceUnavailable))
			g.Expect(rec.Body.String()).NotTo(ContainSubstring("cache"), "internal errors stay internal")
		})
	}
}
