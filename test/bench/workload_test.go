package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// workers is how many requests the benchmark sends to the API server at once.
const workers = 16

// createDeployments creates the namespaces and the Deployments. Opted-in
// Deployments run one pod; the others run none, so that the cluster's
// simulated pods do not dominate a 2-core machine; the manager caches every
// Deployment all the same.
func (e *benchEnv) createDeployments(ctx context.Context) error {
	for n := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%02d", n)}}
		if err := e.k8s.Create(ctx, ns); err != nil {
			return err
		}
	}
	return parallel(deployments, func(i int) error { return e.k8s.Create(ctx, benchDeployment(i)) })
}

// benchDeployment is the i-th Deployment: a small web app, opted in when i
// is a multiple of optInEvery.
func benchDeployment(i int) *appsv1.Deployment {
	name := fmt.Sprintf("app-%04d", i)
	labels := map[string]string{"app": name, "tier": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("bench-%02d", i%namespaces), Name: name, Labels: labels,
			Annotations: map[string]string{"example.com/owner": "team-" + strconv.Itoa(i%7)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:" + shaFirst[:8],
					Args:  []string{"--listen=:8080", "--log-format=json"},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					Env:   []corev1.EnvVar{{Name: "APP_NAME", Value: name}},
				}}},
			},
		},
	}
	if i%optInEvery == 0 {
		d.Spec.Replicas = new(int32(1))
		// One environment per service: GitLab answers a POST that repeats
		// the environment's last deployment (sha, ref, status) with that
		// deployment instead of a new one.
		d.Annotations[gitlabv1alpha1.AnnotationEnvironment] = "production/" + name
		d.Annotations[gitlabv1alpha1.AnnotationProject] = project
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = shaFirst
		d.Annotations[gitlabv1alpha1.AnnotationRef] = "main"
	}
	return d
}

// rollOut deploys sha to every opted-in Deployment.
func (e *benchEnv) rollOut(ctx context.Context, sha string) error {
	return parallel(optedIn, func(i int) error {
		key := client.ObjectKeyFromObject(benchDeployment(i * optInEvery))
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d := &appsv1.Deployment{}
			if err := e.k8s.Get(ctx, key, d); err != nil {
				return err
			}
			d.Annotations[gitlabv1alpha1.AnnotationSHA] = sha
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:" + sha[:8]
			return e.k8s.Update(ctx, d)
		})
	})
}

// parallel calls fn(0) … fn(n-1) from workers goroutines and returns the
// first error.
func parallel(n int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// waitRecorded waits until every opted-in Deployment has a rollout of sha
// recorded success.
func (e *benchEnv) waitRecorded(b *testing.B, sha string) {
	b.Helper()
	deadline := time.Now().Add(recordTimeout)
	for {
		done, err := e.recorded(b.Context(), sha)
		switch {
		case err != nil:
			b.Fatal(err)
		case done == optedIn:
			return
		case time.Now().After(deadline):
			b.Fatalf("%d of %d rollouts of %s recorded after %s", done, optedIn, sha[:8], recordTimeout)
		}
		select {
		case <-b.Context().Done():
			b.Fatal(b.Context().Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// recorded counts the rollouts of sha recorded success.
func (e *benchEnv) recorded(ctx context.Context, sha string) (int, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := e.k8s.List(ctx, &list); err != nil {
		return 0, err
	}
	n := 0
	for _, gld := range list.Items {
		if gld.Spec.SHA == sha && gld.Status.Record.Status == gitlab.StatusSuccess && gld.Status.Record.Intent == "" {
			n++
		}
	}
	return n, nil
}

// scrapeHeap reads go_memstats_heap_inuse_bytes from the manager's metrics.
func scrapeHeap(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes at %s", url)
}
