package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/rollgate/rollgate/internal/process"
)

const (
	// serviceCIDR is the range Service cluster IPs come from; serviceIP is
	// the first one, taken by the "kubernetes" Service.
	serviceCIDR = "10.96.0.0/12"
	serviceIP   = "10.96.0.1"
	// podCIDR is the range kwok gives pod IPs from.
	podCIDR = "10.244.0.0/16"
	// portAttempts is how often a component is restarted on fresh ports when
	// another program took one of its ports between picking and binding.
	portAttempts = 3
)

// controllers are the kube-controller-manager controllers the cluster runs:
// Deployments and ReplicaSets roll out; the node lifecycle controller lifts
// the not-ready taint new nodes get; the garbage collector deletes what a
// deleted Deployment owned; the namespace controller empties and removes a
// deleted namespace.
var controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"node-lifecycle-controller",
	"garbage-collector-controller",
	"namespace-controller",
}

// launch starts a component that listens on ports freshly picked for it and
// waits until ready says it serves, retrying with other ports when one was
// taken meanwhile. plan returns the arguments and the readiness check for the
// given ports.
func (c *Cluster) launch(ctx context.Context, name, path string, ports int,
	plan func(ports []int) ([]string, func(context.Context) bool)) error {
	var err error
	for range portAttempts {
		var picked []int
		if picked, err = freePorts(ctx, ports); err != nil {
			return err
		}
		args, ready := plan(picked)
		p, startErr := c.startProcess(ctx, name, path, args)
		if startErr != nil {
			return startErr
		}
		if err = c.waitReady(ctx, p, "its readiness check", ready); err == nil || !portInUse(p) {
			return err
		}
		c.procs = c.procs[:len(c.procs)-1] // it has exited: nothing to stop
	}
	return err
}

// startEtcd runs etcd on two free loopback ports, without fsync: its data is
// thrown away with the cluster.
func (c *Cluster) startEtcd(ctx context.Context, path string) error {
	dataDir := filepath.Join(c.Dir, "etcd-data")
	if err := os.RemoveAll(dataDir); err != nil { // an earlier cluster's, in a reused Dir
		return fmt.Errorf("cluster: clearing %s: %w", dataDir, err)
	}
	return c.launch(ctx, "etcd", path, 2, func(ports []int) ([]string, func(context.Context) bool) {
		client, peer := loopbackURL("http", ports[0]), loopbackURL("http", ports[1])
		c.etcdURL = client
		return []string{
			"--name=default",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=default=" + peer,
			"--unsafe-no-fsync=true",
			"--log-level=warn",
		}, func(ctx context.Context) bool { return httpOK(ctx, client+"/health") }
	})
}

// startAPIServer runs kube-apiserver on a free loopback port, authenticating
// clients by certificate and authorizing them with RBAC; extra are further
// flags.
func (c *Cluster) startAPIServer(ctx context.Context, path string, certs *pki, extra []string) error {
	return c.launch(ctx, "kube-apiserver", path, 1, func(ports []int) ([]string, func(context.Context) bool) {
		c.Config = adminConfig(loopbackURL("https", ports[0]), certs)
		return append([]string{
			"--etcd-servers=" + c.etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			// A loopback address may not back the "kubernetes" Service.
			"--endpoint-reconciler-type=none",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--cert-dir=" + filepath.Join(c.Dir, "pki"),
			"--tls-cert-file=" + certs.servingCert,
			"--tls-private-key-file=" + certs.servingKey,
			"--client-ca-file=" + certs.caFile,
			"--service-account-key-file=" + certs.saPublic,
			"--service-account-signing-key-file=" + certs.saPrivate,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=RBAC",
			"--allow-privileged=true",
			// Nothing creates the "default" ServiceAccount of new namespaces.
			"--disable-admission-plugins=ServiceAccount",
			"--profiling=false",
		}, extra...), c.apiServerReady
	})
}

// apiServerReady reports whether the API server answers /readyz with "ok".
func (c *Cluster) apiServerReady(ctx context.Context) bool {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil && strings.TrimSpace(string(body)) == "ok"
}

// startControllers runs kube-controller-manager, kube-scheduler and kwok.
// They serve no port; Start checks them through the nodes they make ready.
func (c *Cluster) startControllers(ctx context.Context, bins binaries, kwokConfig string) error {
	kubeconfig := "--kubeconfig=" + c.KubeconfigPath
	components := []struct {
		name, path string
		args       []string
	}{{
		name: "kube-controller-manager", path: bins.controllerManager,
		args: []string{kubeconfig,
			"--controllers=" + strings.Join(controllers, ","),
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--secure-port=0",
			"--node-monitor-period=1s",
			"--kube-api-qps=200", "--kube-api-burst=400"},
	}, {
		name: "kube-scheduler", path: bins.scheduler,
		args: []string{kubeconfig, "--leader-elect=false", "--secure-port=0"},
	}, {
		name: "kwok", path: bins.kwok,
		args: []string{kubeconfig,
			"--config=" + kwokConfig,
			"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			"--node-lease-duration-seconds=40",
			"--cidr=" + podCIDR},
	}}
	for _, comp := range components {
		if _, err := c.startProcess(ctx, comp.name, comp.path, comp.args); err != nil {
			return err
		}
	}
	return nil
}

// startProcess starts a component in Dir, its output in <Dir>/<name>.log.
func (c *Cluster) startProcess(ctx context.Context, name, path string, args []string) (*process.Process, error) {
	p, err := process.Start(ctx, process.Options{Dir: c.Dir, Name: name, Path: path, Args: args})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// waitReady polls ready until it reports true. It fails with subject's log
// when subject exits or ctx ends first, and with the log of any other
// component that exits meanwhile.
func (c *Cluster) waitReady(ctx context.Context, subject *process.Process, what string,
	ready func(context.Context) bool) error {
	var gone *process.Process
	err := subject.WaitFor(ctx, what, func(ctx context.Context) bool {
		for _, p := range c.procs {
			if p.Exited() {
				gone = p
				return true
			}
		}
		return ready(ctx)
	})
	switch {
	case err != nil:
		return fmt.Errorf("cluster: %w", err)
	case gone != nil:
		return fmt.Errorf("cluster: %s stopped unexpectedly (%s); last lines of %s:\n%s",
			gone.Name(), gone.ExitReason(), gone.LogPath(), gone.Tail(tailLines))
	}
	return nil
}

// portInUse reports whether p exited because a port it was given was taken
// meanwhile by another program.
func portInUse(p *process.Process) bool {
	if !p.Exited() {
		return false
	}
	data, err := os.ReadFile(p.LogPath())
	return err == nil && bytes.Contains(data, []byte("address already in use"))
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
// Each listener stays open until all are picked, so the ports differ.
func freePorts(ctx context.Context, n int) ([]int, error) {
	var lc net.ListenConfig
	ports := make([]int, 0, n)
	for range n {
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: picking a free port: %w", err)
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopbackURL(scheme string, port int) string {
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// httpOK reports whether a GET of url answers 200.
func httpOK(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
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
