package install

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// With the manager stopped, the installed webhooks fail closed for gated
// Deployments only: a gated Deployment's new template, and a Deployment
// whose approval annotation rollgate could not parse, are refused and no
// ReplicaSet appears, while a Deployment that is not gated (no approval
// annotation, or "false") is created and rolls out as if rollgate were not
// installed.
func TestWebhooksFailClosedForGatedDeploymentsOnly(t *testing.T) {
	g := NewWithT(t)
	binary := buildManager(t)
	objs := render(t, "config/default")
	c := localcluster.StartT(t, localcluster.Options{})
	k8s, err := client.New(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(apply(t.Context(), c.Config, objs)).To(Succeed())
	d := managerDeployment(t, objs)
	m := newHostManager(t, binary(), c.KubeconfigPath, d)
	pointWebhooksAt(t, k8s, m.WebhookPort)
	m.start(t)
	m.waitReady(t)
	waitGate(t, k8s)
	gitLab, err := harness.StartGitLab()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gitLab.Close)
	g.Expect(gitLab.AddProject("shop/web")).To(Succeed())
	ns := workloadNamespace(t, k8s, gitLab.URL)

	gated := newDeployment(ns, "gated", "shop/web")
	gated.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
	g.Expect(k8s.Create(t.Context(), gated)).To(Succeed())
	g.Expect(gated.Spec.Paused).To(BeTrue(), "held while rollgate runs")
	g.Expect(m.Stop()).To(Succeed())

	// A new template of the gated Deployment is refused: nobody can judge it.
	err = update(t, k8s, ns, "gated", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
	})
	g.Expect(err).To(MatchError(ContainSubstring("hold.gate.gitlab.rollgate.dev")))
	t.Logf("a gated update while rollgate is down: %v", err)
	// So is releasing it, and taking the gate off.
	g.Expect(update(t, k8s, ns, "gated", func(d *appsv1.Deployment) { d.Spec.Paused = false })).NotTo(Succeed())
	g.Expect(update(t, k8s, ns, "gated", func(d *appsv1.Deployment) {
		delete(d.Annotations, gitlabv1alpha1.AnnotationApproval)
	})).NotTo(Succeed())
	// An approval annotation rollgate cannot parse gates too.
	typo := newDeployment(ns, "typo", "shop/web")
	typo.Annotations[gitlabv1alpha1.AnnotationApproval] = "sorce=Record"
	g.Expect(k8s.Create(t.Context(), typo)).NotTo(Succeed())

	// Workloads that are not gated never wait on rollgate.
	plain := newDeployment(ns, "plain", "shop/web")
	plain.Annotations = nil
	off := newDeployment(ns, "off", "shop/web")
	off.Annotations[gitlabv1alpha1.AnnotationApproval] = "false"
	upper := newDeployment(ns, "upper", "shop/web")
	upper.Annotations[gitlabv1alpha1.AnnotationApproval] = "FALSE"
	for _, d := range []*appsv1.Deployment{plain, off, upper} {
		g.Expect(k8s.Create(t.Context(), d)).To(Succeed())
		waitRolledOut(t, k8s, d)
		g.Expect(update(t, k8s, ns, d.Name, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
		})).To(Succeed())
		waitRolledOut(t, k8s, d)
	}

	g.Consistently(func(g Gomega) {
		cur := &appsv1.Deployment{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "gated"}, cur)).To(Succeed())
		g.Expect(cur.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example/web:1"))
		g.Expect(cur.Spec.Paused).To(BeTrue())
		g.Expect(replicaSetsOf(g, k8s, ns, "gated")).To(BeEmpty())
	}).WithTimeout(3 * time.Second).WithPolling(poll).Should(Succeed())

	// Break glass, as the README has it: a cluster administrator makes the
	// webhooks fail open, and the gated Deployment can be changed.
	for _, obj := range []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{},
	} {
		obj.SetName(mutatingWebhook)
		if _, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration); ok {
			obj.SetName(validatingWebhook)
		}
		patch := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]`))
		g.Expect(k8s.Patch(t.Context(), obj, patch)).To(Succeed())
	}
	g.Eventually(func() error {
		return update(t, k8s, ns, "gated", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
			d.Spec.Paused = false
			d.Annotations[gitlabv1alpha1.AnnotationApprovalBypass] = "incident 4711: rollgate down"
		})
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	waitRolledOut(t, k8s, gated)

	// Back, rollgate records the rollout and does not take it back.
	g.Expect(m.Start()).To(Succeed())
	m.waitReady(t)
	cur := &appsv1.Deployment{}
	g.Expect(k8s.Get(t.Context(), client.ObjectKeyFromObject(gated), cur)).To(Succeed())
	hash := rollout.TemplateHash(&cur.Spec.Template)
	g.Eventually(func(g Gomega) {
		g.Expect(rolloutOf(g, k8s, ns, hash)).NotTo(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(k8s.Get(t.Context(), client.ObjectKeyFromObject(gated), cur)).To(Succeed())
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(rollout.TemplateHash(&cur.Spec.Template)).To(Equal(hash))
	}).WithTimeout(3 * time.Second).WithPolling(poll).Should(Succeed())
}

// Two managers run as the installer runs its two replicas, behind one
// address that, like the webhook Service, sends connections to a ready
// replica. The leader, which also serves the webhooks, holds a gated
// rollout; the webhook configurations are then applied again without a CA
// bundle (as a GitOps tool syncing the installer does) and are trusted again
// within 5 s, the rollout still held; the leader is then killed. The other
// replica answers the webhooks at once (before it is leader), no Pod of the
// held template ever exists, and an approval in GitLab releases it.
func TestTwoReplicasKeepTheGateWhenOneDies(t *testing.T) {
	g := NewWithT(t)
	binary := buildManager(t)
	objs := render(t, "config/default")
	d := managerDeployment(t, objs)
	g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
	c := localcluster.StartT(t, localcluster.Options{})
	k8s, err := client.New(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(apply(t.Context(), c.Config, objs)).To(Succeed())

	bin := binary()
	a := newHostManager(t, bin, c.KubeconfigPath, d)
	b := newHostManager(t, bin, c.KubeconfigPath, d)
	for _, m := range []*hostManager{a, b} {
		// Held rollouts are looked at every 2 s at most, so that the test
		// need not wait for the default back-off.
		m.Args = append(m.Args, "--approval-poll-max=2s")
	}
	lb := startBalancer(t, a, b)
	pointWebhooksAt(t, k8s, lb.port)
	a.start(t)
	a.waitReady(t)
	g.Eventually(func(g Gomega) {
		g.Expect(leaseHolder(g, k8s)).NotTo(BeEmpty())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	b.start(t)
	b.waitReady(t)
	waitGate(t, k8s)
	g.Expect(servedCertificate(t, a.WebhookPort)).To(Equal(servedCertificate(t, b.WebhookPort)), "both replicas serve one certificate")

	gitLab := approvingGitLab(t)
	ns := workloadNamespace(t, k8s, gitLab.URL)
	web := newDeployment(ns, "web", "shop/web")
	web.Annotations[gitlabv1alpha1.AnnotationApproval] = "source=Record"
	g.Expect(k8s.Create(t.Context(), web)).To(Succeed())
	g.Expect(web.Spec.Paused).To(BeTrue())
	hash := rollout.TemplateHash(&web.Spec.Template)
	var recordID int64
	g.Eventually(func(g Gomega) {
		gld := rolloutOf(g, k8s, ns, hash)
		g.Expect(gld.Status.Approval).NotTo(BeNil())
		g.Expect(gld.Status.Record).NotTo(BeNil())
		g.Expect(gld.Status.Record.ID).NotTo(BeZero())
		recordID = gld.Status.Record.ID
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	pods := countPods(t, k8s, ns)

	// Applied again as rendered: the caBundle is gone, then set again.
	reapplyWithoutCABundle(t, k8s, objs, lb.port)
	blanked := time.Now()
	expectWebhookCertificate(t, k8s)
	took := time.Since(blanked)
	t.Logf("caBundle injected again %v after the re-apply", took.Round(time.Millisecond))
	g.Expect(took).To(BeNumerically("<", 5*time.Second))
	expectRefusedRelease(t, k8s, ns)

	// The leader, also the replica the webhooks are called on, dies.
	leader := leaseHolder(g, k8s)
	g.Expect(a.Kill()).To(Succeed())
	killed := time.Now()
	expectRefusedRelease(t, k8s, ns)
	t.Logf("the other replica judged a release %v after the kill; leader then: %s (was %s)",
		time.Since(killed).Round(time.Millisecond), leaseHolder(g, k8s), leader)

	held := pods()
	approve(t, gitLab, recordID)
	g.Eventually(func(g Gomega) {
		cur := &appsv1.Deployment{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKeyFromObject(web), cur)).To(Succeed())
		g.Expect(cur.Spec.Paused).To(BeFalse())
		g.Expect(cur.Status.UpdatedReplicas).To(BeEquivalentTo(2))
	}).WithTimeout(2 * timeout).WithPolling(poll).Should(Succeed())
	g.Expect(leaseHolder(g, k8s)).NotTo(Equal(leader), "the surviving replica took over")
	g.Expect(held).To(BeZero(), "no Pod or ReplicaSet of the held template before the approval")
}

// balancer forwards TCP connections to the first of its backends whose
// readiness probe (every 100 ms) passed, as the webhook Service does to
// ready pods; with none ready it refuses them.
type balancer struct {
	port     int
	backends []*hostManager
	ready    []atomic.Bool
}

func startBalancer(t *testing.T, backends ...*hostManager) *balancer {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &balancer{port: l.Addr().(*net.TCPAddr).Port, backends: backends, ready: make([]atomic.Bool, len(backends))}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); _ = l.Close(); wg.Wait() })
	wg.Go(func() { lb.probe(ctx) })
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { lb.forward(ctx, conn) })
		}
	})
	return lb
}

// probe checks every backend's readiness every 100 ms.
func (lb *balancer) probe(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		for i, m := range lb.backends {
			ok := false
			if req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.ProbeAddr+"/readyz", nil); err == nil {
				if resp, err := hc.Do(req); err == nil {
					ok = resp.StatusCode == http.StatusOK
					_ = resp.Body.Close()
				}
			}
			lb.ready[i].Store(ok)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (lb *balancer) forward(ctx context.Context, conn net.Conn) {
	defer func() { _ = conn.Close() }()
	for i, m := range lb.backends {
		if !lb.ready[i].Load() {
			continue
		}
		// Like a Service, it does not try another backend when this one
		// refuses: the connection fails until the probe notices.
		up, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.WebhookPort)))
		if err != nil {
			return
		}
		defer func() { _ = up.Close() }()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
		go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return
	}
}

// servedCertificate returns the leaf certificate served on a loopback port.
func servedCertificate(t *testing.T, port int) []byte {
	t.Helper()
	//nolint:gosec // G402: only the certificate is read.
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw
}

func leaseHolder(g Gomega, k8s client.Client) string {
	lease := &coordinationv1.Lease{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: systemNamespace, Name: leaseName}, lease)).To(Succeed())
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// approvingGitLab is a fake GitLab whose production environment of shop/web
// needs alice's approval.
func approvingGitLab(t *testing.T) *harness.GitLab {
	t.Helper()
	g := NewWithT(t)
	gitLab, err := harness.StartGitLab()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gitLab.Close)
	_, err = gitLab.AddUser(gitlabtest.UserSpec{Username: "alice"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitLab.AddToken(gitlabtest.TokenSpec{Token: "tok-alice", User: "alice", Scopes: []string{"api"}})).To(Succeed())
	_, err = gitLab.Fake.AddProject(gitlabtest.ProjectSpec{Path: "shop/web", AcceptAnySHA: true, AcceptAnyRef: true,
		Members: map[string]gitlabtest.AccessLevel{harness.GitLabUser: gitlabtest.Maintainer, "alice": gitlabtest.Reporter}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitLab.ProtectEnvironment(gitlabtest.ProtectedEnvironmentSpec{Project: "shop/web", Name: environment,
		ApprovalRules: []gitlabtest.ApprovalRuleSpec{{AccessRuleSpec: gitlabtest.AccessRuleSpec{User: "alice"}, RequiredApprovals: 1}}})).To(Succeed())
	return gitLab
}

// approve approves a deployment record as alice.
func approve(t *testing.T, gitLab *harness.GitLab, id int64) {
	t.Helper()
	u := gitLab.URL + "/api/v4/projects/" + url.PathEscape("shop/web") + "/deployments/" + strconv.FormatInt(id, 10) + "/approval"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(url.Values{"status": {"approved"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", "tok-alice")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("approving deployment %d: %d %s", id, resp.StatusCode, body)
	}
}

// rolloutOf returns the GitLabDeployment of a pod template.
func rolloutOf(g Gomega, k8s client.Client, ns, hash string) *gitlabv1alpha1.GitLabDeployment {
	var list gitlabv1alpha1.GitLabDeploymentList
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	for i := range list.Items {
		if list.Items[i].Spec.PodTemplateHash == hash {
			return &list.Items[i]
		}
	}
	g.Expect(hash).To(BeEmpty(), "no GitLabDeployment of %s", hash)
	return nil
}

// countPods polls the namespace until stopped and returns how many times it
// saw a Pod or ReplicaSet.
func countPods(t *testing.T, k8s client.Client, ns string) func() int64 {
	var seen atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var pods corev1.PodList
			var sets appsv1.ReplicaSetList
			if k8s.List(ctx, &pods, client.InNamespace(ns)) == nil && k8s.List(ctx, &sets, client.InNamespace(ns)) == nil {
				seen.Add(int64(len(pods.Items) + len(sets.Items)))
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	var n int64
	stop := func() int64 {
		once.Do(func() { cancel(); <-done; n = seen.Load() })
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}

// reapplyWithoutCABundle replaces both webhook configurations with the
// installer's, pointed at the balancer: no caBundle.
func reapplyWithoutCABundle(t *testing.T, k8s client.Client, objs []*unstructured.Unstructured, port int) {
	t.Helper()
	g := NewWithT(t)
	at := func(c *admissionregistrationv1.WebhookClientConfig) {
		u := "https://127.0.0.1:" + strconv.Itoa(port) + *c.Service.Path
		c.Service, c.URL = nil, &u
		g.Expect(c.CABundle).To(BeEmpty())
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "MutatingWebhookConfiguration", mutatingWebhook).Object, mutating)).To(Succeed())
	for i := range mutating.Webhooks {
		at(&mutating.Webhooks[i].ClientConfig)
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "ValidatingWebhookConfiguration", validatingWebhook).Object, validating)).To(Succeed())
	for i := range validating.Webhooks {
		at(&validating.Webhooks[i].ClientConfig)
	}
	for _, obj := range []client.Object{mutating, validating} {
		live := obj.DeepCopyObject().(client.Object)
		g.Expect(k8s.Get(t.Context(), client.ObjectKeyFromObject(obj), live)).To(Succeed())
		obj.SetResourceVersion(live.GetResourceVersion())
		g.Expect(k8s.Update(t.Context(), obj)).To(Succeed())
	}
	// As the API server stored them:
	g.Expect(mutating.Webhooks[0].ClientConfig.CABundle).To(BeEmpty(), "the re-apply removed the caBundle")
	g.Expect(validating.Webhooks[0].ClientConfig.CABundle).To(BeEmpty(), "the re-apply removed the caBundle")
}

// expectRefusedRelease waits until releasing the held Deployment "web"
// without approval is refused by rollgate's guard (not merely because no
// webhook answered), and checks it is still paused.
func expectRefusedRelease(t *testing.T, k8s client.Client, ns string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		err := update(t, k8s, ns, "web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		g.Expect(err).To(MatchError(ContainSubstring("held until GitLab approves it")))
	}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	cur := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, cur)).To(Succeed())
	NewWithT(t).Expect(cur.Spec.Paused).To(BeTrue())
}

// waitGate waits until the API server calls the webhooks and trusts them
// (its view of the caBundle may lag the manager's by a moment): a dry run of
// a gated Deployment is held.
func waitGate(t *testing.T, k8s client.Client) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		d := newDeployment("default", "dry-run", "shop/dry-run")
		d.Annotations[gitlabv1alpha1.AnnotationApproval] = "true"
		g.Expect(k8s.Create(t.Context(), d, client.DryRunAll)).To(Succeed())
		g.Expect(d.Spec.Paused).To(BeTrue())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// update applies mutate to the Deployment, retrying on conflicts only.
func update(t *testing.T, k8s client.Client, ns, name string, mutate func(*appsv1.Deployment)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		mutate(d)
		return k8s.Update(t.Context(), d)
	})
}

// waitRolledOut waits until the Deployment's current template runs on all
// its replicas.
func waitRolledOut(t *testing.T, k8s client.Client, d *appsv1.Deployment) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		cur := &appsv1.Deployment{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKeyFromObject(d), cur)).To(Succeed())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
		g.Expect(cur.Status.UpdatedReplicas).To(Equal(*cur.Spec.Replicas))
		g.Expect(cur.Status.AvailableReplicas).To(Equal(*cur.Spec.Replicas))
		g.Expect(cur.Status.Replicas).To(Equal(*cur.Spec.Replicas))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// replicaSetsOf lists the names of a Deployment's ReplicaSets.
func replicaSetsOf(g Gomega, k8s client.Client, ns, name string) []string {
	var sets appsv1.ReplicaSetList
	g.Expect(k8s.List(context.Background(), &sets, client.InNamespace(ns), client.MatchingLabels{"app": name})).To(Succeed())
	out := make([]string, 0, len(sets.Items))
	for i := range sets.Items {
		out = append(out, sets.Items[i].Name)
	}
	return out
}
