// Package bench measures the rollgate manager binary on a real local
// cluster with many Deployments: its memory and its GitLab traffic.
package bench

import (
	"context"
	"fmt"
	"path/filepath"
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

const (
	// deployments is how many Deployments the cluster holds, spread over
	// namespaces; one in optInEvery opts in.
	deployments = 2000
	namespaces  = 20
	optInEvery  = 10
	optedIn     = deployments / optInEvery
	// project is the GitLab project every opted-in Deployment records to.
	project = "bench/app"
	// recordTimeout bounds each wait for all rollouts to be recorded.
	recordTimeout = 10 * time.Minute
)

// Commits of the first and the second rollout of every opted-in Deployment.
const (
	shaFirst  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaSecond = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// BenchmarkManager2000Deployments starts the manager over 2,000
// Deployments of which 200 opt in and were rolled out before it started
// (first seen complete), waits until all 200 are recorded success, then
// rolls all 200 out again and waits until those are recorded. It reports
// the time each took, GitLab requests per rollout and the manager's memory.
// Run it once: -benchtime=1x.
func BenchmarkManager2000Deployments(b *testing.B) {
	env := newBenchEnv(b)
	for range b.N {
		env.run(b)
	}
}

// run is one measurement with a fresh manager.
func (e *benchEnv) run(b *testing.B) {
	ctx := b.Context()
	start := time.Now()
	if err := e.manager.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.manager.Stop() }()
	e.waitRecorded(b, shaFirst)
	firstSync := time.Since(start)
	initial := e.gitLab.Traffic(project, time.Time{})

	since := time.Now()
	if err := e.rollOut(ctx, shaSecond); err != nil {
		b.Fatal(err)
	}
	e.waitRecorded(b, shaSecond)
	rollout := time.Since(since)
	second := e.gitLab.Traffic(project, since)

	rss, err := e.manager.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	heap, err := scrapeHeap(ctx, e.metricsURL)
	if err != nil {
		b.Logf("Go heap unavailable: %v", err)
	}
	b.ReportMetric(float64(rss)/(1<<20), "MiB-peak-rss")
	b.ReportMetric(heap/(1<<20), "MiB-heap-inuse")
	b.ReportMetric(firstSync.Seconds(), "s-first-sync")
	b.ReportMetric(rollout.Seconds(), "s-rollout")
	b.ReportMetric(float64(initial.Writes())/optedIn, "first-writes/rollout")
	b.ReportMetric(float64(initial.Gets)/optedIn, "first-reads/rollout")
	b.ReportMetric(float64(second.Writes())/optedIn, "writes/rollout")
	b.ReportMetric(float64(second.Gets)/optedIn, "reads/rollout")
	b.Logf("first sync: %d POST, %d PUT, %d GET; rollout: %d POST, %d PUT, %d GET",
		initial.Posts, initial.Puts, initial.Gets, second.Posts, second.Puts, second.Gets)
	if recs, err := e.gitLab.Deployments(project, ""); err == nil {
		envs := map[string]int{}
		for _, r := range recs {
			envs[r.Environment+" "+r.SHA[:2]+" "+r.Status]++
		}
		b.Logf("GitLab holds %d records for %d rollouts in %d environment/sha/status groups; requests: %v",
			len(recs), 2*optedIn, len(envs), e.gitLab.RequestCounts())
	}
}

// benchEnv is the cluster, fake GitLab and manager of the benchmark.
type benchEnv struct {
	cluster    *localcluster.Cluster
	k8s        client.Client
	gitLab     *harness.GitLab
	manager    *harness.Manager
	metricsURL string
}

// newBenchEnv starts the cluster and the fake GitLab, creates the
// Deployments and builds the manager; it does not start the manager.
func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	ctx := b.Context()
	binary, err := harness.BuildManager(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{cluster: localcluster.StartT(b, localcluster.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
	})}
	cfg := rest.CopyConfig(e.cluster.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	if e.k8s, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		b.Fatal(err)
	}
	if e.gitLab, err = harness.StartGitLab(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.gitLab.Close)
	if err := e.gitLab.AddProject(project); err != nil {
		b.Fatal(err)
	}
	if err := e.createCredentials(ctx); err != nil {
		b.Fatal(err)
	}
	created := time.Now()
	if err := e.createDeployments(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d Deployments (%d opted in) in %s", deployments, optedIn, time.Since(created).Round(time.Millisecond))
	port, err := harness.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	e.manager = &harness.Manager{Binary: binary, LogPath: filepath.Join(dir, "manager.log"), Args: []string{
		"--kubeconfig=" + e.cluster.KubeconfigPath,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port), "--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--default-credentials=rollgate-system/gitlab",
		"--gitlab-qps=100", "--gitlab-burst=100",
	}}
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("manager log:\n%s", e.manager.Log())
		}
	})
	return e
}

// createCredentials creates the operator's namespace and default Secret.
func (e *benchEnv) createCredentials(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rollgate-system"}}
	if err := e.k8s.Create(ctx, ns); err != nil {
		return err
	}
	return e.k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rollgate-system", Name: "gitlab"},
		StringData: map[string]string{"url": e.gitLab.URL, "token": harness.GitLabToken},
	})
}
