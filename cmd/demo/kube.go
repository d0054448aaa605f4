package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// appName is the sample application's Deployment.
const appName = "hello"

// Rollout settings of the sample application.
const (
	replicas = 3
	// minReadySeconds keeps each rollout running for a few seconds (pods of
	// the simulated nodes are ready at once), so that GitLab's running
	// state can be seen before success.
	minReadySeconds = 3
	// brokenDeadline is the progress deadline of the broken release.
	brokenDeadline = 10
)

// createNamespace creates a namespace, which may exist already.
func createNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// createCredentials creates rollgate's default credentials Secret: the fake
// GitLab's URL and rollgate's token.
func createCredentials(ctx context.Context, c client.Client, gitlabURL string) error {
	if err := createNamespace(ctx, c, systemNamespace); err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: credentialsName},
		StringData: map[string]string{
			gitlabv1alpha1.SecretKeyURL:   gitlabURL,
			gitlabv1alpha1.SecretKeyToken: rollgateToken,
		},
	}
	if err := c.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating the credentials Secret: %w", err)
	}
	return nil
}

// helloDeployment is the sample application at commit shaV1 in namespace
// env, recorded in the GitLab environment of the same name.
func helloDeployment(env string, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": appName}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: env, Name: appName, Annotations: map[string]string{
			gitlabv1alpha1.AnnotationEnvironment: env,
			gitlabv1alpha1.AnnotationProject:     projectPath,
			gitlabv1alpha1.AnnotationSHA:         shaV1,
			gitlabv1alpha1.AnnotationRef:         ref,
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas:        new(int32(replicas)),
			MinReadySeconds: minReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: appName, Image: "registry.example.com/demo/hello:" + short(shaV1),
				}}},
			},
		},
	}
	maps.Copy(d.Annotations, annotations)
	return d
}

// breakRelease turns d into the broken release shaV2: its pods never become
// ready and the rollout gives up after brokenDeadline seconds.
func breakRelease(d *appsv1.Deployment) {
	d.Annotations[gitlabv1alpha1.AnnotationSHA] = shaV2
	d.Spec.ProgressDeadlineSeconds = new(int32(brokenDeadline))
	d.Spec.Template.Labels[localcluster.NeverReadyLabel] = "true"
	d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/demo/hello:" + short(shaV2)
}

// rollouts lists every GitLabDeployment, ordered by namespace and creation.
func rollouts(ctx context.Context, c client.Client) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing GitLabDeployments: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b gitlabv1alpha1.GitLabDeployment) int {
		if n := strings.Compare(a.Namespace, b.Namespace); n != 0 {
			return n
		}
		if n := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); n != 0 {
			return n
		}
		return strings.Compare(a.Name, b.Name)
	})
	return list.Items, nil
}

// rolloutOf returns the GitLabDeployment of namespace ns recording sha.
func rolloutOf(items []gitlabv1alpha1.GitLabDeployment, ns, sha string) *gitlabv1alpha1.GitLabDeployment {
	for i := range items {
		if items[i].Namespace == ns && items[i].Spec.SHA == sha {
			return &items[i]
		}
	}
	return nil
}
