package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// stampedVersion is the version the test stamps into the manager, as the
// Makefile does.
const stampedVersion = "v0.0.0-e2e"

// managerUser is the user the manager authenticates as, before it
// impersonates its service account: the audit log records its requests, and
// only its.
const managerUser = "rollgate-manager"

// The chart installs with `helm install` on a fresh cluster, and the manager
// it installs, run with the chart's flags as the chart's service account,
// starts, says its version, records a rollout as rollgate/<version>, sends
// every request to the API server as rollgate/<version>, and `helm
// uninstall` removes it but keeps the CRD.
func TestHelmInstall(t *testing.T) {
	g := NewWithT(t)
	helm := helmBinary(t)
	binary := buildStampedManager(t)
	c := localcluster.StartT(t, localcluster.Options{AuditUsers: []string{managerUser}})
	k8s, err := client.New(c.Config, client.Options{Scheme: operator.NewScheme()})
	g.Expect(err).NotTo(HaveOccurred())
	_, managerKubeconfig, err := c.UserConfig(managerUser, "system:masters")
	g.Expect(err).NotTo(HaveOccurred())

	root, err := harness.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	runHelm(t, helm, c.KubeconfigPath, "install", "rollgate", filepath.Join(root, "charts", "rollgate"),
		"--namespace", systemNamespace, "--create-namespace")
	var releases []struct {
		Name, Status string
	}
	g.Expect(json.Unmarshal(runHelm(t, helm, c.KubeconfigPath, "list", "-n", systemNamespace, "-o", "json"), &releases)).To(Succeed())
	g.Expect(releases).To(HaveExactElements(And(HaveField("Name", "rollgate"), HaveField("Status", "deployed"))))
	expectInstalled(t, k8s)

	d := &appsv1.Deployment{}
	g.Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: systemNamespace, Name: managerName}, d)).To(Succeed())
	g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + chartAppVersion(t, root)))

	bin := binary()
	out, err := exec.CommandContext(t.Context(), bin, "--version").Output() //nolint:gosec // the binary just built
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).To(HavePrefix("rollgate " + stampedVersion + " (commit "))

	m := newHostManager(t, bin, managerKubeconfig, d)
	// Plain HTTP metrics, so that the test reads them without a token.
	m.Args = append(m.Args, "--metrics-secure=false")
	pointWebhooksAt(t, k8s, m.WebhookPort)
	m.start(t)
	m.waitReady(t)
	// The metrics server may start listening after the probes answer.
	g.Eventually(func(g Gomega) string { return scrape(g, t, m.MetricsAddr) }).
		WithTimeout(timeout).WithPolling(poll).Should(MatchRegexp(
		`(?m)^rollgate_build_info\{commit="[^"]+",goversion="go[^"]+",version="` + stampedVersion + `"\} 1$`))
	g.Eventually(func(g Gomega) {
		lease := &coordinationv1.Lease{}
		g.Expect(k8s.Get(t.Context(), client.ObjectKey{Namespace: systemNamespace, Name: leaseName}, lease)).To(Succeed())
		g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	expectWebhookCertificate(t, k8s)

	gitLab, err := harness.StartGitLab()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gitLab.Close)
	g.Expect(gitLab.AddProject("shop/api")).To(Succeed())
	ns := workloadNamespace(t, k8s, gitLab.URL)
	api := neverReady(newDeployment(ns, "api", "shop/api"))
	g.Expect(k8s.Create(t.Context(), api)).To(Succeed())
	waitRecord(t, gitLab, "shop/api", gitlab.StatusRunning)
	makePodsReady(t, k8s, ns)
	waitRecord(t, gitLab, "shop/api", gitlab.StatusSuccess)
	g.Expect(gitLab.UserAgents()).To(ConsistOf("rollgate/" + stampedVersion))
	expectUserAgent(t, c, "system:serviceaccount:"+systemNamespace+":"+d.Spec.Template.Spec.ServiceAccountName)

	runHelm(t, helm, c.KubeconfigPath, "uninstall", "rollgate", "--namespace", systemNamespace)
	g.Eventually(func() bool {
		err := k8s.Get(t.Context(), client.ObjectKey{Namespace: systemNamespace, Name: managerName}, &appsv1.Deployment{})
		return apierrors.IsNotFound(err)
	}).WithTimeout(timeout).WithPolling(poll).Should(BeTrue())
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	g.Expect(k8s.Get(t.Context(), client.ObjectKey{Name: crdName}, crd)).
		To(Succeed(), "helm uninstall keeps the CRD, and so the GitLabDeployments")
}

// expectUserAgent checks the manager's requests in the audit log, made as
// serviceAccount: they include the rollout's record and the leader election,
// and each says rollgate/<version>, which a client may follow with its own
// name (controller-runtime's leader election adds /leader-election).
func expectUserAgent(t *testing.T, c *localcluster.Cluster, serviceAccount string) {
	t.Helper()
	g := NewWithT(t)
	events, err := c.ReadAudit()
	g.Expect(err).NotTo(HaveOccurred())
	userAgent := "rollgate/" + stampedVersion
	seen := map[string]bool{}
	var wrong []string
	for _, e := range events {
		g.Expect(e.User.Username).To(Equal(managerUser))
		g.Expect(e.ImpersonatedUser.Username).To(Equal(serviceAccount),
			"the manager's request %s %s", e.Verb, e.URI)
		if e.UserAgent != userAgent && !strings.HasPrefix(e.UserAgent, userAgent+"/") {
			wrong = append(wrong, fmt.Sprintf("%s %s: %q", e.Verb, e.URI, e.UserAgent))
		}
		seen[e.Verb+" "+e.Resource()] = true
		seen[e.Resource()] = true
	}
	g.Expect(wrong).To(BeEmpty(), "of the manager's %d requests, these do not say User-Agent %s[/...]",
		len(events), userAgent)
	g.Expect(seen).To(HaveKey("create gitlabdeployments"))
	g.Expect(seen).To(HaveKey("leases"))
}

// scrape returns the manager's metrics in the text format.
func scrape(g Gomega, t *testing.T, addr string) string {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
	return string(body)
}

// helmBinary returns the helm that `make helm` installs, or $HELM.
func helmBinary(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		root, err := harness.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		helm = filepath.Join(root, "bin", "helm")
	}
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("helm is needed to install the chart (make helm): %v", err)
	}
	return helm
}

// runHelm runs helm against the cluster of kubeconfig, with its state in
// the test's directories, and returns its output.
func runHelm(t *testing.T, helm, kubeconfig string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	//nolint:gosec // G204: the repository's own helm and chart.
	cmd := exec.CommandContext(t.Context(), helm, append(args, "--kubeconfig", kubeconfig)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// chartAppVersion reads the chart's appVersion, its default image tag.
func chartAppVersion(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "charts", "rollgate", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	t.Fatal("Chart.yaml has no appVersion")
	return ""
}

// buildStampedManager builds the manager in the background with the version
// stamped as `make build` does.
func buildStampedManager(t *testing.T) func() string {
	t.Helper()
	dir := t.TempDir()
	built := make(chan error, 1)
	binary := filepath.Join(dir, "rollgate")
	go func() {
		root, err := harness.RepoRoot()
		if err != nil {
			built <- err
			return
		}
		//nolint:gosec // G204: building the repository's own manager.
		cmd := exec.CommandContext(t.Context(), "go", "build", "-ldflags",
			"-X github.com/rollgate/rollgate/internal/version.Version="+stampedVersion, "-o", binary, "./cmd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built <- &buildError{err: err, out: out}
			return
		}
		built <- nil
	}()
	return func() string {
		if err := <-built; err != nil {
			t.Fatal(err)
		}
		return binary
	}
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "building the manager: " + e.err.Error() + "\n" + string(e.out)
}
