package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/process"
)

// Where rollgate keeps its default GitLab credentials and its webhook
// certificate in the demo cluster.
const (
	systemNamespace = "rollgate-system"
	credentialsName = "gitlab"
	certSecretName  = "rollgate-webhook-cert" //nolint:gosec // a Secret's name, not a credential
	// rollgateIdentity is the Kubernetes user rollgate acts as. The demo's
	// own writes use another identity, so the webhooks tell them apart.
	rollgateIdentity = "rollgate"
)

// rollgate is the running manager.
type rollgate struct {
	proc     *process.Process
	webhooks *webhookConfigs
	// webhookPort is where the manager serves its admission webhooks.
	webhookPort int
}

// startRollgate runs the manager binary against the cluster with the default
// credentials Secret and its admission webhooks, and waits until it serves
// them with a certificate the API server trusts.
func startRollgate(ctx context.Context, bin, dir, root, kubeconfig string, kube client.Client) (*rollgate, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	rg := &rollgate{webhookPort: ports[0]}
	if rg.webhooks, err = readWebhooks(root, "https://127.0.0.1:"+strconv.Itoa(rg.webhookPort)); err != nil {
		return nil, err
	}
	ownKubeconfig, err := impersonatingKubeconfig(kubeconfig, filepath.Join(dir, "rollgate.kubeconfig"))
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig", ownKubeconfig,
		"--default-credentials", systemNamespace + "/" + credentialsName,
		"--health-probe-bind-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		"--metrics-bind-address", "0",
		"--approval-webhooks=" + strconv.FormatBool(!rg.webhooks.empty()),
		"--webhook-port", strconv.Itoa(rg.webhookPort),
		"--webhook-cert-path", filepath.Join(dir, "webhook-certs"),
		"--webhook-cert-secret", systemNamespace + "/" + certSecretName,
		"--webhook-hosts", "127.0.0.1",
		// Read held rollouts' approvals every second or two, not minutes.
		"--approval-poll-min", "1s", "--approval-poll-max", "2s",
		// The fake GitLab links merge requests at once.
		"--shipped-delay", "1s",
	}
	if !rg.webhooks.empty() {
		if err := rg.webhooks.install(ctx, kube); err != nil {
			return nil, err
		}
	}
	if rg.proc, err = process.Start(ctx, process.Options{Dir: dir, Name: "rollgate", Path: bin, Args: args}); err != nil {
		return nil, err
	}
	if err := rg.waitServing(ctx, kube, ports[1]); err != nil {
		return nil, errors.Join(err, rg.proc.Stop())
	}
	return rg, nil
}

// impersonatingKubeconfig writes to dest a copy of the kubeconfig at src
// that acts as rollgateIdentity (with the same admin rights).
func impersonatingKubeconfig(src, dest string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = rollgateIdentity
		auth.ImpersonateGroups = []string{"system:masters"}
	}
	if err := clientcmd.WriteToFile(*cfg, dest); err != nil {
		return "", fmt.Errorf("writing rollgate's kubeconfig: %w", err)
	}
	return dest, nil
}

// waitServing waits for the manager's readiness probe and, with webhooks,
// for the webhook server to listen with a CA the configurations trust.
func (rg *rollgate) waitServing(ctx context.Context, kube client.Client, probePort int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	if err := rg.proc.WaitFor(ctx, "its readiness probe", func(ctx context.Context) bool {
		return httpOK(ctx, readyz)
	}); err != nil {
		return err
	}
	if rg.webhooks.empty() {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(rg.webhookPort))
	return rg.proc.WaitFor(ctx, "its webhook server and certificate", func(ctx context.Context) bool {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return rg.webhooks.trusted(ctx, kube)
	})
}

// httpOK reports whether GET url answers 200.
func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer func() { _ = ln.Close() }()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// removeAll removes the demo's working directory.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil { //nolint:gosec // the demo's own working directory
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
