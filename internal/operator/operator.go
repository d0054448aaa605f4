/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package operator wires rollgate's controllers into a controller-runtime
// manager. The manager binary, the demo and the tests all start rollgate
// through it, so what they run is what users run.
package operator

import (
	"cmp"
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/controller/gitlabdeployment"
	"github.com/rollgate/rollgate/internal/controller/workload"
	"github.com/rollgate/rollgate/internal/gitlab"
	"github.com/rollgate/rollgate/internal/history"
	"github.com/rollgate/rollgate/internal/rollout"
)

// Options are rollgate's own settings (the manager's flags).
type Options struct {
	// GitLab configures the GitLab clients (rate limit, timeouts).
	GitLab gitlab.Config
	// DefaultCredentials is the operator's default credentials Secret,
	// used by GitLabDeployments whose namespace has no "gitlab" Secret.
	DefaultCredentials types.NamespacedName
	// HistoryLimit is how many GitLabDeployments are kept per Deployment.
	HistoryLimit int
	// RunningThreshold: records running longer count in the stuck gauge.
	RunningThreshold time.Duration
	// CredentialsRetry is how soon missing or rejected credentials are retried.
	CredentialsRetry time.Duration
	// CredentialsCache is how long a credentials Secret read is reused.
	CredentialsCache time.Duration
	// GitLabRetry is how soon a rollout stalled on GitLab's refusal is retried.
	GitLabRetry time.Duration
	// FinalizeTimeout bounds how long a deleted rollout waits to cancel its record.
	FinalizeTimeout time.Duration
	// Gate configures the approval gate's webhooks and polling.
	Gate GateOptions
	// MaxConcurrentReconciles is how many GitLabDeployments are reconciled
	// at once.
	MaxConcurrentReconciles int
	// AdoptAfter is how long after an unanswered POST its record is looked
	// for in GitLab; zero means the GitLab request timeout plus 5s.
	AdoptAfter time.Duration
	// ClusterName names this cluster (--cluster-name): it replaces
	// {cluster} in environment annotations and is recorded in
	// status.cluster and the records' Events. Empty for none.
	ClusterName string
	// ShippedDelay is how long after a record's success the merge requests
	// GitLab linked to it are read.
	ShippedDelay time.Duration
}

// DefaultOptions returns the defaults of the manager's flags.
func DefaultOptions() Options {
	return Options{
		GitLab:           gitlab.DefaultConfig(),
		HistoryLimit:     workload.DefaultHistoryLimit,
		RunningThreshold: time.Hour,
		CredentialsRetry: 2 * time.Minute,
		CredentialsCache: 10 * time.Second,
		GitLabRetry:      10 * time.Minute,
		ShippedDelay:     30 * time.Second,
		FinalizeTimeout:  10 * time.Minute,
		Gate:             GateOptions{Webhooks: true, Polling: rollout.DefaultApprovalPolling},

		MaxConcurrentReconciles: 16,
	}
}

// NewScheme returns the scheme rollgate's manager uses.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(gitlabv1alpha1.AddToScheme(s))
	return s
}

// CacheOptions keeps the informer cache to what the controllers read:
// managed fields are dropped from every object; a Deployment that does not
// opt in is kept as a metadata stub, and one that does without its pod
// template (rollout.TrimForCache, newInformer); the settled history of GitLabDeployments (the
// settled label) is left out, and read from the API server where a
// decision needs it (history.Live). Secrets are never cached: they are read
// on demand through the manager's API reader.
func CacheOptions() cache.Options {
	unsettled, err := labels.NewRequirement(gitlabv1alpha1.LabelSettled, selection.DoesNotExist, nil)
	utilruntime.Must(err)
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		NewInformer:      newInformer,
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:               {Transform: rollout.TrimForCache},
			&gitlabv1alpha1.GitLabDeployment{}: {Label: labels.NewSelector().Add(*unsettled)},
		},
	}
}

// Setup registers rollgate's indexes, controllers and metrics on mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := history.SetupIndex(ctx, mgr); err != nil {
		return fmt.Errorf("registering indexes: %w", err)
	}
	historyReader, err := newHistoryReader(ctx, mgr)
	if err != nil {
		return err
	}
	metrics := gitlabdeployment.NewMetrics(mgr.GetClient(), opts.RunningThreshold)
	registry := gitlab.NewRegistry(opts.GitLab)
	if err := (&workload.Reconciler{
		Client:                  mgr.GetClient(),
		Recorder:                mgr.GetEventRecorder("rollgate"),
		HistoryLimit:            opts.HistoryLimit,
		APIReader:               mgr.GetAPIReader(),
		HistoryReader:           historyReader,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		ClusterName:             opts.ClusterName,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the workload controller: %w", err)
	}
	keys := bypassKeys(mgr, opts.Gate)
	triggers, err := setupGate(ctx, mgr, opts.Gate, keys)
	if err != nil {
		return err
	}
	if err := (&gitlabdeployment.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("rollgate"),
		GitLab:   registry,
		Credentials: &gitlabdeployment.CredentialsResolver{Reader: mgr.GetAPIReader(),
			Default: opts.DefaultCredentials, CacheFor: opts.CredentialsCache},
		Metrics:          metrics,
		CredentialsRetry: opts.CredentialsRetry,
		GitLabRetry:      opts.GitLabRetry,
		FinalizeTimeout:  opts.FinalizeTimeout,
		AdoptAfter:       cmp.Or(opts.AdoptAfter, opts.GitLab.RequestTimeout+5*time.Second),
		APIReader:        mgr.GetAPIReader(),
		HistoryReader:    historyReader,
		ApprovalPolling:  opts.Gate.Polling,
		Triggers:         triggers,
		ClusterName:      opts.ClusterName,
		ShippedDelay:     opts.ShippedDelay,
		BypassKeys:       keys,

		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the gitlabdeployment controller: %w", err)
	}
	return nil
}

// newHistoryReader lists a Deployment's whole history from the API
// server's watch cache, no older than the manager's GitLabDeployment
// informer (history.Reader).
func newHistoryReader(ctx context.Context, mgr ctrl.Manager) (client.Reader, error) {
	inf, err := mgr.GetCache().GetInformer(ctx, &gitlabv1alpha1.GitLabDeployment{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("getting the GitLabDeployment informer: %w", err)
	}
	synced, _ := inf.(history.Synced)
	return &history.Reader{Reader: mgr.GetAPIReader(), Synced: synced}, nil
}
