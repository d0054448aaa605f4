package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rollgate/rollgate/internal/process"
)

const (
	// defaultStartTimeout bounds Start when its context has no deadline.
	defaultStartTimeout = 2 * time.Minute
	// tailLines is how many log lines of each component a failure report carries.
	tailLines = process.TailLines
)

// Options configure a cluster. The zero value starts one node, with binaries
// found as described in the package documentation.
type Options struct {
	// BinDir is the directory holding etcd, kube-apiserver,
	// kube-controller-manager, kube-scheduler, kwok and kwok-stages/.
	// Empty means $ROLLGATE_K8S_BIN, else the repository's
	// bin/k8s/<version>-<os>-<arch>.
	BinDir string
	// Dir is the working directory: certificates, etcd data, configuration
	// and one log file per component. Empty means a new temporary directory,
	// removed by Stop; a given directory is kept, and an earlier cluster's
	// files in it are replaced.
	Dir string
	// Nodes is how many simulated nodes to register; zero means one.
	Nodes int
	// CRDDirectoryPaths are files or directories of CustomResourceDefinition
	// manifests installed before Start returns. Each must exist.
	CRDDirectoryPaths []string
	// AuditUsers turns on the API server's audit log for these users: one
	// JSON line per request they make (metadata only, no bodies), in
	// Cluster.AuditLogPath. Other users' requests are not logged.
	AuditUsers []string
}

// Cluster is a running control plane with simulated nodes.
type Cluster struct {
	// Config reaches the API server as an admin (group system:masters),
	// with client-go's default rate limit; set QPS and Burst on a copy
	// (rest.CopyConfig) for heavier load.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same admin credentials,
	// for kubectl and other programs.
	KubeconfigPath string
	// Dir is the working directory; <component>.log there holds each
	// component's output.
	Dir string
	// AuditLogPath is the API server's audit log, empty unless
	// Options.AuditUsers was set; see ReadAudit.
	AuditLogPath string

	certs   *pki
	procs   []*process.Process
	ownDir  bool
	etcdURL string

	stopOnce sync.Once
	stopErr  error
}

// Start runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok, registers the simulated nodes, installs the CRDs and returns once the
// nodes can take pods. ctx bounds the start only (two minutes if it has no
// deadline); the cluster runs until Stop, or until the calling program ends.
//
// On failure everything started is stopped, the working directory is kept,
// and the error carries the last lines of the failing component's log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bins, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	c := &Cluster{Dir: opts.Dir}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "rollgate-cluster-"); err != nil {
			return nil, fmt.Errorf("cluster: creating a working directory: %w", err)
		}
		c.ownDir = true
	} else if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("cluster: creating %s: %w", c.Dir, err)
	}
	if err := c.start(ctx, bins, opts); err != nil {
		_ = c.stopProcesses()
		return nil, fmt.Errorf("%w\n(cluster files are kept in %s)", err, c.Dir)
	}
	return c, nil
}

// start brings the components up one after the other.
func (c *Cluster) start(ctx context.Context, bins binaries, opts Options) error {
	certs, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return err
	}
	c.certs = certs
	var audit []string
	if len(opts.AuditUsers) > 0 {
		if audit, err = c.auditArgs(opts.AuditUsers); err != nil {
			return err
		}
	}
	kwokConfig := filepath.Join(c.Dir, "kwok.yaml")
	if err := writeKwokConfig(bins.stages, kwokConfig); err != nil {
		return err
	}
	if err := c.startEtcd(ctx, bins.etcd); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, bins.apiServer, certs, audit); err != nil {
		return err
	}
	if err := c.writeKubeconfig(certs); err != nil {
		return err
	}
	if err := c.startControllers(ctx, bins, kwokConfig); err != nil {
		return err
	}
	if len(opts.CRDDirectoryPaths) > 0 {
		crds := envtest.CRDInstallOptions{Paths: opts.CRDDirectoryPaths, ErrorIfPathMissing: true}
		if _, err := envtest.InstallCRDs(c.Config, crds); err != nil {
			return fmt.Errorf("cluster: installing CRDs: %w", err)
		}
	}
	return c.startNodes(ctx, max(opts.Nodes, 1))
}

// startNodes registers the nodes and waits until kwok has made them ready
// and kube-controller-manager has lifted their not-ready taint.
func (c *Cluster) startNodes(ctx context.Context, n int) error {
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS = -1 // no client-side rate limit, for many nodes
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("cluster: creating a client: %w", err)
	}
	if err := createNodes(ctx, cs, n); err != nil {
		return err
	}
	if err := c.waitReady(ctx, c.component("kwok"), "ready nodes", func(ctx context.Context) bool {
		return allNodes(ctx, cs, n, nodeReady)
	}); err != nil {
		return err
	}
	return c.waitReady(ctx, c.component("kube-controller-manager"), "schedulable nodes",
		func(ctx context.Context) bool { return allNodes(ctx, cs, n, nodeSchedulable) })
}

// component returns the last process started under name.
func (c *Cluster) component(name string) *process.Process {
	for _, p := range slices.Backward(c.procs) {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// adminConfig returns a client configuration for the admin user at host.
func adminConfig(host string, certs *pki) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: certs.caCert, CertData: certs.adminCert, KeyData: certs.adminKey,
		},
	}
}

// writeKubeconfig writes Config as a kubeconfig file in Dir.
func (c *Cluster) writeKubeconfig(certs *pki) error {
	const name = "rollgate"
	kubeconfig := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{name: {
			Server: c.Config.Host, CertificateAuthorityData: certs.caCert,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{adminUser: {
			ClientCertificateData: certs.adminCert, ClientKeyData: certs.adminKey,
		}},
		Contexts:       map[string]*clientcmdapi.Context{name: {Cluster: name, AuthInfo: adminUser}},
		CurrentContext: name,
	}
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfig, c.KubeconfigPath); err != nil {
		return fmt.Errorf("cluster: writing the kubeconfig: %w", err)
	}
	return nil
}

// Stop stops the components in the reverse order of their start, each with
// SIGTERM and then SIGKILL after a grace period, and removes Dir if Start
// created it. Calling it again returns the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stopProcesses()
		if c.ownDir {
			if err := os.RemoveAll(c.Dir); err != nil {
				c.stopErr = errors.Join(c.stopErr, fmt.Errorf("cluster: removing %s: %w", c.Dir, err))
			}
		}
	})
	return c.stopErr
}

// stopProcesses stops every process, last started first.
func (c *Cluster) stopProcesses() error {
	var errs []error
	for _, p := range slices.Backward(c.procs) {
		if err := p.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Logs returns the last lines of each component's log, for a report of why
// something went wrong.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range c.procs {
		if !seen[p.Name()] {
			seen[p.Name()] = true
			fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.Name(), p.LogPath(), p.Tail(lines))
		}
	}
	return b.String()
}

// StartT starts a cluster for a test or benchmark and stops it when tb ends.
// A failed start fails tb; when tb has failed, the end of each component's
// log is written to tb's log before the cluster stops.
func StartT(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	c, err := Start(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("cluster logs:\n%s", c.Logs(tailLines))
		}
		if err := c.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return c
}
