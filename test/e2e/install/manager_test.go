package install

import (
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

// hostManager is the installer's manager run on this machine: its binary
// with the Deployment's flags and environment, as the Deployment's service
// account.
type hostManager struct {
	*harness.Manager
	// ProbeAddr, MetricsAddr and WebhookPort are where it listens.
	ProbeAddr, MetricsAddr string
	WebhookPort            int
}

// newHostManager prepares to run binary as the installer's Deployment d does,
// but on the loopback interface: the bind addresses, the certificate
// directory and the certificate's host (127.0.0.1) are the only flags
// changed, and each must be one d passes. The API server is reached through
// kubeconfig, impersonating the Deployment's service account.
func newHostManager(t *testing.T, binary, kubeconfig string, d *appsv1.Deployment) *hostManager {
	t.Helper()
	m := &hostManager{ProbeAddr: freeAddr(t), MetricsAddr: freeAddr(t)}
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	replaced := map[string]string{
		"--health-probe-bind-address": m.ProbeAddr,
		"--metrics-bind-address":      m.MetricsAddr,
		"--webhook-cert-path":         filepath.Join(dir, "certs"),
	}
	c := d.Spec.Template.Spec.Containers[0]
	args := make([]string, 0, len(c.Args)+3)
	for _, arg := range c.Args {
		name, _, _ := strings.Cut(arg, "=")
		if value, ok := replaced[name]; ok {
			arg = name + "=" + value
			delete(replaced, name)
		}
		args = append(args, arg)
	}
	if len(replaced) > 0 {
		t.Fatalf("the installer's manager lacks the flags %v: %v", replaced, c.Args)
	}
	args = append(args, "--kubeconfig="+impersonating(t, kubeconfig, dir, d),
		"--webhook-port="+port, "--webhook-hosts=127.0.0.1")
	for _, env := range c.Env {
		value := env.Value
		if f := env.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil && f.FieldRef.FieldPath == "metadata.namespace":
				value = d.Namespace
			case f.ResourceFieldRef != nil && f.ResourceFieldRef.Resource == "limits.memory":
				value = strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10)
			default:
				t.Fatalf("the test cannot give the manager the environment variable %s", env.Name)
			}
		}
		// The manager inherits the test's environment.
		t.Setenv(env.Name, value)
	}
	if m.WebhookPort, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	m.Manager = &harness.Manager{Binary: binary, Args: args, LogPath: filepath.Join(dir, "manager.log")}
	return m
}

// start starts the manager and stops it when the test ends.
func (m *hostManager) start(t *testing.T) {
	t.Helper()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("manager %v, its log:\n%s", m.Args, m.Log())
		}
	})
}

// impersonating writes a copy of kubeconfig whose users act as the
// Deployment's service account, and returns its path.
func impersonating(t *testing.T, kubeconfig, dir string, d *appsv1.Deployment) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range cfg.AuthInfos {
		user.Impersonate = "system:serviceaccount:" + d.Namespace + ":" + d.Spec.Template.Spec.ServiceAccountName
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitReady waits until the manager answers its readiness probe, failing
// at once if it exits.
func (m *hostManager) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	NewWithT(t).Eventually(func(g Gomega) {
		if !m.Running() {
			StopTrying("the manager exited").Now()
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+m.ProbeAddr+"/readyz", nil)
		g.Expect(err).NotTo(HaveOccurred())
		resp, err := client.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// buildManager builds the manager binary in the background.
func buildManager(t *testing.T) func() string {
	t.Helper()
	dir := t.TempDir()
	built := make(chan error, 1)
	var binary string
	go func() {
		var err error
		binary, err = harness.BuildManager(t.Context(), dir)
		built <- err
	}()
	return func() string {
		if err := <-built; err != nil {
			t.Fatal(err)
		}
		return binary
	}
}
