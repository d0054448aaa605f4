package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// gateEnv is a cluster of its own with rollgate running in-process as its
// own user, its admission webhooks called by the API server on 127.0.0.1,
// and a fake GitLab whose environments need approvals.
type gateEnv struct {
	k8s     client.Client
	watcher client.WithWatch
	gitlab  *gitlabtest.Server
	project string
	// kubeconfig is the cluster's admin kubeconfig file.
	kubeconfig string
}

const gateProject = "acme/shop"

// TestGate runs the approval gate end to end; the subtests share one
// cluster and one manager.
func TestGate(t *testing.T) {
	env := startGateEnv(t)
	t.Run("RecordSourceHoldsUntilEveryRuleApprovesThenRejectionRestores", env.testRecordSource)
	t.Run("PipelineSourceReleasesOnApprovalOfTheBlockedJob", env.testPipelineSource)
	t.Run("RecordSourceFailsClosed", env.testRecordSourceFailsClosed)
	t.Run("KubectlPluginShowsAndAbortsAHeldRollout", env.testKubectlPlugin)
}

func startGateEnv(t *testing.T) *gateEnv {
	g := NewWithT(t)
	c := localcluster.StartT(t, localcluster.Options{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}})
	k, err := client.New(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	w, err := client.NewWithWatch(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	env := &gateEnv{k8s: k, watcher: w, gitlab: gitlabtest.NewServer(), project: gateProject,
		kubeconfig: c.KubeconfigPath}
	t.Cleanup(env.gitlab.Close)
	env.seedGitLab(t)

	port := freePort(t)
	createGateWebhooks(t, k, port)
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "rollgate", Groups: []string{"system:masters"}}
	certDir := t.TempDir()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: operator.NewScheme(), Cache: operator.CacheOptions(),
		Metrics:       metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir})})
	g.Expect(err).NotTo(HaveOccurred())
	opts := operator.DefaultOptions()
	opts.Gate.Polling = rollout.ApprovalPolling{Min: 300 * time.Millisecond, Max: time.Second}
	opts.Gate.Certs = &operator.CertOptions{CertDir: certDir, Hosts: []string{"127.0.0.1"},
		MutatingWebhooks: []string{"rollgate-gate"}, ValidatingWebhooks: []string{"rollgate-gate"}}
	ctx, cancel := context.WithCancel(context.Background())
	g.Expect(operator.Setup(ctx, mgr, opts)).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	g.Eventually(func(g Gomega) {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		g.Expect(k.Get(t.Context(), client.ObjectKey{Name: "rollgate-gate"}, m)).To(Succeed())
		g.Expect(m.Webhooks[0].ClientConfig.CABundle).NotTo(BeEmpty(), "caBundle injected")
		dialer := &net.Dialer{Timeout: time.Second}
		conn, err := dialer.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		g.Expect(err).NotTo(HaveOccurred())
		_ = conn.Close()
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return env
}

// seedGitLab adds rollgate's user, approvers alice and bob, the project, and
// protects production (one rule per approver) and staging (alice alone).
func (e *gateEnv) seedGitLab(t *testing.T) { seedGate(t, e.gitlab) }

// seedGate seeds a fake GitLab with the gate tests' project, users and
// protected environments.
func seedGate(t *testing.T, srv *gitlabtest.Server) {
	g := NewWithT(t)
	g.Expect(srv.Seed(gitlabtest.Seed{
		Users: []gitlabtest.UserSpec{{Username: "rollgate"}, {Username: "alice"}, {Username: "bob"}},
		Projects: []gitlabtest.ProjectSpec{{Path: gateProject, AcceptAnySHA: true, AcceptAnyRef: true,
			Members: map[string]gitlabtest.AccessLevel{"rollgate": gitlabtest.Maintainer, "alice": gitlabtest.Reporter, "bob": gitlabtest.Reporter}}},
		Tokens: []gitlabtest.TokenSpec{{Token: "tok-rollgate", User: "rollgate"}, {Token: "tok-alice", User: "alice"}, {Token: "tok-bob", User: "bob"}},
	})).To(Succeed())
	rule := func(user string) gitlabtest.ApprovalRuleSpec {
		return gitlabtest.ApprovalRuleSpec{AccessRuleSpec: gitlabtest.AccessRuleSpec{User: user}, RequiredApprovals: 1}
	}
	g.Expect(srv.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: gateProject, Name: "production",
		ApprovalRules: []gitlabtest.ApprovalRuleSpec{rule("alice"), rule("bob")}})).To(Succeed())
	g.Expect(srv.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: gateProject, Name: "staging",
		ApprovalRules: []gitlabtest.ApprovalRuleSpec{rule("alice")}})).To(Succeed())
}

// createGateWebhooks installs rollgate's webhooks as config/webhook has
// them, called by URL on 127.0.0.1; the manager injects the caBundle.
func createGateWebhooks(t *testing.T, k client.Client, port int) {
	g := NewWithT(t)
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	rule := admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}
	none := admissionregistrationv1.SideEffectClassNone
	ignore := admissionregistrationv1.Ignore
	mutate, validate := base+"/mutate-apps-v1-deployment", base+"/validate-apps-v1-deployment"
	g.Expect(k.Create(t.Context(), &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "rollgate-gate"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "hold.gate.gitlab.rollgate.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &mutate},
			Rules:        []admissionregistrationv1.RuleWithOperations{rule}, SideEffects: &none, FailurePolicy: &ignore,
			AdmissionReviewVersions: []string{"v1"}}},
	})).To(Succeed())
	rule.Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Update}
	g.Expect(k.Create(t.Context(), &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "rollgate-gate"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "guard.gate.gitlab.rollgate.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &validate},
			Rules:        []admissionregistrationv1.RuleWithOperations{rule}, SideEffects: &none, FailurePolicy: &ignore,
			AdmissionReviewVersions: []string{"v1"}}},
	})).To(Succeed())
}

func freePort(t *testing.T) int {
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// namespace creates a namespace with rollgate's credentials Secret.
func (e *gateEnv) namespace(t *testing.T) string {
	g := NewWithT(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gate-"}}
	g.Expect(e.k8s.Create(t.Context(), ns)).To(Succeed())
	g.Expect(e.k8s.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "gitlab"},
		StringData: map[string]string{"url": e.gitlab.URL, "token": "tok-rollgate"}})).To(Succeed())
	return ns.Name
}

// watchHeld watches ReplicaSets and Pods in ns until stopped, seeing every
// event, and counts each one it sees of a template not in allowed (by
// pod-template-hash).
func (e *gateEnv) watchHeld(t *testing.T, ns string, allowed ...string) (stop func() int64) {
	var seen atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	watchKind := func(list client.ObjectList) {
		w, err := e.watcher.Watch(ctx, list, client.InNamespace(ns))
		if err != nil {
			t.Errorf("watching %T: %v", list, err)
			return
		}
		wg.Go(func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, open := <-w.ResultChan():
					if !open {
						t.Errorf("the watch of %T ended early", list)
						return
					}
					obj, ok := ev.Object.(client.Object)
					if !ok || slices.Contains(allowed, obj.GetLabels()[appsv1.DefaultDeploymentUniqueLabelKey]) {
						continue
					}
					seen.Add(1)
					t.Logf("unapproved %T %s seen (%s)", obj, obj.GetName(), ev.Type)
				}
			}
		})
	}
	watchKind(&appsv1.ReplicaSetList{})
	watchKind(&corev1.PodList{})
	return func() int64 { cancel(); wg.Wait(); return seen.Load() }
}

func (e *gateEnv) decide(t *testing.T, user string, id int64, status string) {
	form := url.Values{"status": {status}}
	u := e.gitlab.APIURL() + "/projects/" + url.PathEscape(e.project) + "/deployments/" + strconv.FormatInt(id, 10) + "/approval"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", "tok-"+user)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s deployment %d: %d", user, status, id, resp.StatusCode)
	}
}

func (e *gateEnv) deployment(g Gomega, ctx context.Context, ns, name string) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	g.Expect(e.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
	return d
}

// rollout returns the GitLabDeployment of a template hash.
func (e *gateEnv) rollout(g Gomega, ctx context.Context, ns, name, hash string) *gitlabv1alpha1.GitLabDeployment {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(e.k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	for i := range list.Items {
		if list.Items[i].Spec.WorkloadRef.Name == name && list.Items[i].Spec.PodTemplateHash == hash {
			return &list.Items[i]
		}
	}
	g.Expect(hash).To(BeEmpty(), "no GitLabDeployment of %s", hash)
	return nil
}

func (e *gateEnv) records(g Gomega, env string) []string {
	ds, err := e.gitlab.Deployments(e.project, env)
	g.Expect(err).NotTo(HaveOccurred())
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.SHA[:4]+":"+d.Status)
	}
	return out
}

func (e *gateEnv) update(t *testing.T, ns, name string, mutate func(*appsv1.Deployment)) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := e.k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		mutate(d)
		return e.k8s.Update(t.Context(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gated returns a gated Deployment of sha to environment env.
func gated(ns, name, env, approval, sha string) *appsv1.Deployment {
	d := newDeployment(ns, name, gateProject, sha, 2)
	d.Annotations[gitlabv1alpha1.AnnotationEnvironment] = env
	d.Annotations[gitlabv1alpha1.AnnotationApproval] = approval
	return d
}
