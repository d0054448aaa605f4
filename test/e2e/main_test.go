package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// The operator's namespace and its default credentials Secret.
const (
	systemNamespace = "rollgate-system"
	secretName      = "gitlab"
)

// The cluster, the fake GitLab and the manager all tests share.
var (
	testCluster *localcluster.Cluster
	k8s         client.Client
	gitLab      *harness.GitLab
	manager     *harness.Manager
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping the end-to-end tests: they run a local control plane, a fake GitLab and the manager binary; not run with -short")
		os.Exit(0)
	}
	os.Exit(run(m))
}

// run sets up the shared environment, runs the tests and tears it down.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rollgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	failed := true
	defer func() {
		if failed {
			fmt.Fprintf(os.Stderr, "e2e files (manager log, cluster logs) kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	if err := setUp(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		tearDown()
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- manager log (%s), last lines:\n%s\n", manager.LogPath, lastLines(manager.Log(), 60))
	}
	tearDown()
	failed = code != 0
	return code
}

// setUp starts the cluster and the fake GitLab, builds the manager and
// starts it with default credentials pointing at the fake.
func setUp(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	built := make(chan error, 1)
	var binary string
	go func() {
		var err error
		binary, err = harness.BuildManager(ctx, dir)
		built <- err
	}()
	var err error
	testCluster, err = localcluster.Start(ctx, localcluster.Options{
		Dir:               filepath.Join(dir, "cluster"),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
	})
	if err := <-built; err != nil {
		return err
	}
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(testCluster.Config)
	cfg.QPS, cfg.Burst = 100, 200
	if k8s, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		return err
	}
	if gitLab, err = harness.StartGitLab(); err != nil {
		return err
	}
	if err := createCredentials(ctx); err != nil {
		return err
	}
	// A free webhook port rather than the default 9443, which another
	// manager on the machine may hold.
	webhookPort, err := harness.FreePort()
	if err != nil {
		return err
	}
	manager = &harness.Manager{
		Binary:  binary,
		LogPath: filepath.Join(dir, "manager.log"),
		Args: []string{
			"--kubeconfig=" + testCluster.KubeconfigPath,
			"--metrics-bind-address=0", "--health-probe-bind-address=0",
			"--webhook-port=" + strconv.Itoa(webhookPort),
			"--default-credentials=" + systemNamespace + "/" + secretName,
			"--gitlab-qps=50", "--gitlab-burst=100", "--gitlab-timeout=5s",
			"--zap-devel=false", "--zap-log-level=info",
		},
	}
	return manager.Start()
}

// createCredentials creates the operator's namespace and default Secret.
func createCredentials(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNamespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: secretName},
		StringData: map[string]string{"url": gitLab.URL, "token": harness.GitLabToken},
	}
	return k8s.Create(ctx, secret)
}

// tearDown stops whatever setUp started.
func tearDown() {
	if manager != nil {
		if err := manager.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if gitLab != nil {
		gitLab.Close()
	}
	if testCluster != nil {
		if err := testCluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
