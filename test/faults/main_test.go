// Package faults is rollgate's fault suite: rollouts on a real local control
// plane while the manager binary is killed, GitLab (the fake) fails in every
// way it can, two managers fight for the lease, and users type every kind of
// bad annotation. Each test checks rollgate's promises against an oracle
// built from a watch of the Deployments, and logs its figures as a table.
//
// The sizes (rollouts, kills, outage lengths, ...) come from FAULTS_*
// environment variables, so that `make test-faults-short` is the same code
// with smaller numbers; see params.go.
package faults

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
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

// What every test shares: the cluster, the fake GitLab, the manager binary
// and the working directory for logs.
var (
	testCluster *localcluster.Cluster
	k8s         client.WithWatch
	clientset   kubernetes.Interface
	gitLab      *harness.GitLab
	binary      string
	workDir     string
	params      = loadParams()
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping the fault suite: it runs a local control plane and the manager binary; not run with -short")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if workDir, err = os.MkdirTemp("", "rollgate-faults-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "fault suite: %s\nfiles (manager logs, cluster logs) in %s\n", params, workDir)
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		tearDown()
		return 1
	}
	code := m.Run()
	tearDown()
	if code == 0 {
		_ = os.RemoveAll(workDir)
	} else {
		fmt.Fprintf(os.Stderr, "fault suite files kept in %s\n", workDir)
	}
	return code
}

// setUp starts the cluster and the fake GitLab and builds the manager.
func setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	built := make(chan error, 1)
	go func() {
		var err error
		binary, err = harness.BuildManager(ctx, workDir)
		built <- err
	}()
	var err error
	testCluster, err = localcluster.Start(ctx, localcluster.Options{
		Dir:               filepath.Join(workDir, "cluster"),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
	})
	if buildErr := <-built; buildErr != nil {
		return buildErr
	}
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(testCluster.Config)
	cfg.QPS, cfg.Burst = 200, 400
	if k8s, err = client.NewWithWatch(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		return err
	}
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if gitLab, err = harness.StartGitLab(); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNamespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		return err
	}
	return k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: secretName},
		StringData: map[string]string{"url": gitLab.URL, "token": harness.GitLabToken},
	})
}

func tearDown() {
	if gitLab != nil {
		gitLab.Close()
	}
	if testCluster != nil {
		if err := testCluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// newNamespace creates a namespace for one test and deletes it afterwards,
// waiting (while the test's manager still runs: cleanups run last first)
// until it is gone, so that the next test's manager does not inherit its
// GitLabDeployments.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8s.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if err := k8s.Delete(ctx, ns); err != nil {
			t.Error(err)
			return
		}
		gone := waitUntil(ctx, 200*time.Millisecond, 2*time.Minute, func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}))
		})
		if !gone {
			t.Logf("namespace %s is still being deleted after two minutes", ns.Name)
		}
	})
	return ns.Name
}

// newProject adds the GitLab project faults/<name> and returns its path.
func newProject(t *testing.T, name string) string {
	t.Helper()
	path := "faults/" + name
	if err := gitLab.AddProject(path); err != nil {
		t.Fatal(err)
	}
	return path
}
