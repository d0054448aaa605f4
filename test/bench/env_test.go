package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
	"github.com/rollgate/rollgate/internal/process"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

const (
	// managerUser and bareUser are the identities the manager and the bare
	// cache authenticate as; the audit log records their requests.
	managerUser = "rollgate-manager"
	bareUser    = "bare-cache"
	// benchQPS is the benchmark's own client rate, enough to create 10,000
	// Deployments in a minute or two.
	benchQPS = 1000
	// createWorkers is how many requests the benchmark has in flight.
	createWorkers = 32
)

// benchEnv is the cluster, fake GitLab, manager and bare cache of one scale.
type benchEnv struct {
	tb      testing.TB
	cluster *localcluster.Cluster
	k8s     client.Client
	gitLab  *fakeGitLab
	manager *harness.Manager
	// metricsURL is the manager's plain-HTTP metrics endpoint.
	metricsURL string
	bare       *process.Process
	watch      *completionWatch
	dir        string
}

// newBenchEnv starts the cluster (auditing the manager's user), the fake
// GitLab and the Deployment watch, and builds the manager and the bare
// cache; it starts neither.
func newBenchEnv(tb testing.TB, bins *binaries) *benchEnv {
	tb.Helper()
	ctx := tb.Context()
	e := &benchEnv{tb: tb, dir: tb.TempDir()}
	e.cluster = localcluster.StartT(tb, localcluster.Options{
		Dir:               filepath.Join(e.dir, "cluster"),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		AuditUsers:        []string{managerUser, bareUser},
	})
	cfg := rest.CopyConfig(e.cluster.Config)
	cfg.QPS, cfg.Burst = benchQPS, 2*benchQPS
	var err error
	if e.k8s, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		tb.Fatal(err)
	}
	if e.gitLab, err = startGitLab(project); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.gitLab.Close)
	if err := e.createCredentials(ctx); err != nil {
		tb.Fatal(err)
	}
	if e.watch, err = startCompletionWatch(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
	_, managerKubeconfig, err := e.cluster.UserConfig(managerUser, "system:masters")
	if err != nil {
		tb.Fatal(err)
	}
	port, err := harness.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	webhookPort, err := harness.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	extra := strings.Fields(os.Getenv("BENCH_MANAGER_FLAGS"))
	args := append([]string{
		"--kubeconfig=" + managerKubeconfig,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port), "--metrics-secure=false",
		"--health-probe-bind-address=0",
		fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--webhook-cert-path=" + filepath.Join(e.dir, "webhook-certs"),
		"--default-credentials=rollgate-system/gitlab",
	}, extra...)
	e.manager = &harness.Manager{Binary: bins.manager, LogPath: filepath.Join(e.dir, "manager.log"), Args: args,
		Env: strings.Fields(os.Getenv("BENCH_MANAGER_ENV"))}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("manager log (last lines):\n%s", tail(e.manager.Log(), 60))
		}
		_ = e.manager.Stop()
	})
	return e
}

// createCredentials creates the operator's namespace and default Secret,
// and the benchmark's namespaces.
func (e *benchEnv) createCredentials(ctx context.Context) error {
	if err := e.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rollgate-system"}}); err != nil {
		return err
	}
	if err := e.k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rollgate-system", Name: "gitlab"},
		StringData: map[string]string{"url": e.gitLab.URL, "token": harness.GitLabToken},
	}); err != nil {
		return err
	}
	for n := range namespaces {
		if err := e.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%02d", n)}}); err != nil {
			return err
		}
	}
	return nil
}

// createDeployments creates n Deployments at commit sha, the opted-in ones
// first, and waits until the Deployment controller has seen all of them and
// the opted-in ones have completed their first rollout.
func (e *benchEnv) createDeployments(ctx context.Context, n int, sha string) error {
	start := time.Now()
	order := make([]int, 0, n)
	for i := 0; i < n; i += optInEvery {
		order = append(order, i)
	}
	for i := range n {
		if i%optInEvery != 0 {
			order = append(order, i)
		}
	}
	if err := parallel(ctx, n, createWorkers, func(j int) error {
		return e.k8s.Create(ctx, benchDeployment(order[j], sha))
	}); err != nil {
		return err
	}
	e.tb.Logf("sent %d Deployments in %s", n, time.Since(start).Round(time.Millisecond))
	return e.watch.waitComplete(ctx, n, n/optInEvery, 20*time.Minute)
}

// startBare starts the bare cache and waits until it has synced.
func (e *benchEnv) startBare(ctx context.Context, bins *binaries) error {
	_, kubeconfig, err := e.cluster.UserConfig(bareUser, "system:masters")
	if err != nil {
		return err
	}
	e.bare, err = process.Start(ctx, process.Options{Dir: e.dir, Name: "barecache", Path: bins.bare,
		Args: []string{"--kubeconfig=" + kubeconfig}})
	if err != nil {
		return err
	}
	e.tb.Cleanup(func() { _ = e.bare.Stop() })
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return e.bare.WaitFor(waitCtx, "its cache sync", func(context.Context) bool {
		data, err := os.ReadFile(e.bare.LogPath())
		return err == nil && strings.Contains(string(data), "synced")
	})
}

// completionWatch watches every Deployment and notes when each generation
// first met kubectl rollout status's rules of a complete rollout. Every
// watch event reaches it: an informer's handlers are called for each.
type completionWatch struct {
	mu sync.Mutex
	// complete maps a Deployment to the generations it completed and when.
	complete map[types.NamespacedName]map[int64]time.Time
	// current maps the Deployments with pods to their last complete generation.
	current map[types.NamespacedName]int64
	// observed holds the Deployments whose generation the Deployment
	// controller has seen.
	observed map[types.NamespacedName]bool
}

func startCompletionWatch(ctx context.Context, cfg *rest.Config) (*completionWatch, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	w := &completionWatch{complete: map[types.NamespacedName]map[int64]time.Time{},
		current: map[types.NamespacedName]int64{}, observed: map[types.NamespacedName]bool{}}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Apps().V1().Deployments().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.observe(obj) },
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	}); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("watch of %v did not sync", typ)
		}
	}
	return w, nil
}

func (w *completionWatch) observe(obj any) {
	now := time.Now()
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d.Status.ObservedGeneration >= d.Generation {
		w.observed[key] = true
	}
	if !rolloutComplete(d) {
		return
	}
	gens := w.complete[key]
	if gens == nil {
		gens = map[int64]time.Time{}
		w.complete[key] = gens
	}
	if _, seen := gens[d.Generation]; !seen {
		gens[d.Generation] = now
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
		w.current[key] = d.Generation
	}
}

// completedAt returns when the Deployment first completed generation gen.
func (w *completionWatch) completedAt(key types.NamespacedName, gen int64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.complete[key][gen]
	return t, ok
}

// waitComplete waits until the Deployment controller has seen total
// Deployments and withPods of them have completed a rollout.
func (w *completionWatch) waitComplete(ctx context.Context, total, withPods int, timeout time.Duration) error {
	return poll(ctx, timeout, fmt.Sprintf("%d complete Deployments of %d seen", withPods, total), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.observed) >= total && len(w.current) >= withPods
	})
}

// rolloutComplete applies kubectl rollout status's rules: the controller
// has seen the generation, every replica is updated and available, and no
// old one is left.
func rolloutComplete(d *appsv1.Deployment) bool {
	if d.Generation > d.Status.ObservedGeneration {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false
		}
	}
	st := d.Status
	if d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas {
		return false
	}
	return st.Replicas <= st.UpdatedReplicas && st.AvailableReplicas >= st.UpdatedReplicas
}

// poll checks cond five times a second until it holds, timeout passes or
// ctx ends.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	return pollEvery(ctx, 200*time.Millisecond, timeout, what, cond)
}

// pollEvery checks cond every interval until it holds, timeout passes or
// ctx ends.
func pollEvery(ctx context.Context, interval, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
