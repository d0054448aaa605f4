package bench

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

const (
	// optInEvery: one Deployment in optInEvery opts in.
	optInEvery = 10
	// namespaces the Deployments are spread over.
	namespaces = 20
	// project is the GitLab project every opted-in Deployment records to.
	project = "bench/app"
	// slowMinReady is the minReadySeconds of every other opted-in
	// Deployment: their rollouts take at least that long to complete, so
	// that GitLab should see them running.
	slowMinReady = 3
)

// deploymentKey names the i-th Deployment.
func deploymentKey(i int) types.NamespacedName {
	return types.NamespacedName{Namespace: fmt.Sprintf("bench-%02d", i%namespaces), Name: fmt.Sprintf("app-%05d", i)}
}

// optedInIndex is the Deployment index of the k-th opted-in Deployment.
func optedInIndex(k int) int { return k * optInEvery }

// slow reports whether the k-th opted-in Deployment has minReadySeconds.
func slow(k int) bool { return k%2 == 1 }

// environment is the GitLab environment of a Deployment: one per service,
// so that every rollout is a new record.
func environment(key types.NamespacedName) string { return "production/" + key.Name }

// image is the image a commit deploys.
func image(sha string) string { return "registry.example.com/shop/app:" + sha[:12] }

// shaOf makes a distinct 40-hex commit for a rollout wave.
func shaOf(wave int) string { return commit(fmt.Sprintf("wave %d", wave)) }

// commit is a 40-hex commit SHA derived from seed.
func commit(seed string) string {
	sum := sha1.Sum([]byte(seed)) //nolint:gosec // not a security use: a made-up commit
	return hex.EncodeToString(sum[:])
}

// benchDeployment is the i-th Deployment at commit sha: a web service with
// an application container and a proxy sidecar, environment variables,
// probes, resources and volumes, 6–11 KB as JSON (more variables for some).
// Opted-in Deployments run one pod, every other one with minReadySeconds.
// The others are paused at zero replicas: the Deployment controller makes
// no ReplicaSet for them, which would take a 2-core machine a quarter of an
// hour at 10,000 Deployments; rollgate caches them in full all the same.
func benchDeployment(i int, sha string) *appsv1.Deployment {
	key := deploymentKey(i)
	labels := map[string]string{
		"app.kubernetes.io/name": key.Name, "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/component": "web", "team": "team-" + strconv.Itoa(i%7),
	}
	// 24 to 63 further settings: 6 KB to 11 KB in all.
	settings := 24 + (i*7)%40
	env := make([]corev1.EnvVar, 0, 6+settings)
	env = append(env,
		corev1.EnvVar{Name: "APP_NAME", Value: key.Name},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		corev1.EnvVar{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		corev1.EnvVar{Name: "DATABASE_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: key.Name + "-db"}, Key: "password"}}},
		corev1.EnvVar{Name: "GOMAXPROCS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
			ContainerName: "app", Resource: "limits.cpu"}}},
	)
	for v := range settings {
		env = append(env, corev1.EnvVar{
			Name:  fmt.Sprintf("FEATURE_FLAG_%02d_ENABLED", v),
			Value: fmt.Sprintf("https://config.shop.example.com/%s/flags/%02d?v=%d", key.Name, v, i%97),
		})
	}
	probe := func(path string, delay int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
			InitialDelaySeconds: delay, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3, SuccessThreshold: 1,
		}
	}
	resources := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace, Name: key.Name, Labels: labels,
			Annotations: map[string]string{
				"shop.example.com/owner":   "team-" + strconv.Itoa(i%7) + "@shop.example.com",
				"shop.example.com/runbook": "https://runbooks.shop.example.com/services/" + key.Name,
			},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             new(int32(0)),
			Paused:               true,
			RevisionHistoryLimit: new(int32(10)),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": key.Name}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: new(intstr.FromString("25%")), MaxUnavailable: new(intstr.FromInt32(0))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(30)),
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(10001)),
						FSGroup: new(int64(10001)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "app", Image: image(sha),
						Args: []string{"--listen=:8080", "--metrics=:9090", "--log-format=json", "--shutdown-grace=20s"},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
						Env:            env,
						Resources:      resources("250m", "256Mi"),
						ReadinessProbe: probe("/readyz", 2), LivenessProbe: probe("/livez", 10), StartupProbe: probe("/startz", 0),
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app", ReadOnly: true},
							{Name: "tmp", MountPath: "/tmp"}},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}, {
						Name: "proxy", Image: "registry.example.com/platform/envoy:v1.31.2",
						Args:  []string{"--config-path=/etc/envoy/envoy.yaml", "--log-level=warn", "--drain-time-s=15"},
						Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 8443, Protocol: corev1.ProtocolTCP}},
						Env: []corev1.EnvVar{{Name: "ENVOY_UID", Value: "10001"},
							{Name: "UPSTREAM", Value: "127.0.0.1:8080"}},
						Resources:      resources("100m", "64Mi"),
						ReadinessProbe: probe("/ready", 1), LivenessProbe: probe("/server_info", 5),
						VolumeMounts: []corev1.VolumeMount{{Name: "envoy", MountPath: "/etc/envoy", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: key.Name + "-config"}, Optional: new(true)}}},
						{Name: "envoy", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: "envoy-sidecar"}, Optional: new(true)}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
					Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
				},
			},
		},
	}
	if i%optInEvery == 0 {
		d.Spec.Replicas, d.Spec.Paused = new(int32(1)), false
		if slow(i / optInEvery) {
			d.Spec.MinReadySeconds = slowMinReady
		}
		d.Annotations[gitlabv1alpha1.AnnotationEnvironment] = environment(key)
		d.Annotations[gitlabv1alpha1.AnnotationProject] = project
		d.Annotations[gitlabv1alpha1.AnnotationSHA] = sha
		d.Annotations[gitlabv1alpha1.AnnotationRef] = "main"
	}
	return d
}

// parallel calls fn(0) … fn(n-1) from workers goroutines and returns the
// first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
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
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
