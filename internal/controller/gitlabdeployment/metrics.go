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

package gitlabdeployment

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// rolloutsRecorded counts records that reached a finished status.
var rolloutsRecorded = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "rollgate_rollouts_recorded_total",
	Help: "Rollouts whose GitLab record reached a finished status, by that status (success, failed, canceled).",
}, []string{"status"})

var phaseDesc = prometheus.NewDesc("rollgate_rollout_phase",
	"1 for each GitLabDeployment, labelled with its phase (Pending before it has one), for alerts that select rollouts.",
	[]string{"namespace", "name", "environment", "phase"}, nil)

var runningDesc = prometheus.NewDesc("rollgate_records_running_too_long",
	"GitLab records that have said running for longer than --running-threshold.", nil, nil)

// running is the collector of rollgate_records_running_too_long and
// rollgate_rollout_phase; it reads the GitLabDeployments of the manager's
// cache at scrape time.
var running = &runningCollector{}

func init() {
	crmetrics.Registry.MustRegister(rolloutsRecorded, running)
}

// Metrics gives the controllers rollgate's own metrics.
type Metrics struct{}

// NewMetrics points the stuck-records gauge at reader (a manager's cache)
// with the given threshold, and returns the rollout metrics.
func NewMetrics(reader client.Reader, threshold time.Duration) *Metrics {
	running.mu.Lock()
	defer running.mu.Unlock()
	running.reader, running.threshold = reader, threshold
	return &Metrics{}
}

func (m *Metrics) recorded(status string) {
	if m == nil {
		return
	}
	rolloutsRecorded.WithLabelValues(status).Inc()
}

type runningCollector struct {
	mu        sync.Mutex
	reader    client.Reader
	threshold time.Duration
}

func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) { ch <- runningDesc; ch <- phaseDesc }

func (c *runningCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reader, threshold := c.reader, c.threshold
	c.mu.Unlock()
	if reader == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list gitlabv1alpha1.GitLabDeploymentList
	// Read only: the cache's objects themselves, not a copy of each on
	// every scrape.
	if err := reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(runningDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(runningTooLong(list.Items, threshold, time.Now())))
	for i := range list.Items {
		gld := &list.Items[i]
		phase := string(gld.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, 1, gld.Namespace, gld.Name, gld.Spec.Environment, phase)
	}
}

// runningTooLong counts the records running for longer than threshold.
func runningTooLong(items []gitlabv1alpha1.GitLabDeployment, threshold time.Duration, now time.Time) int {
	n := 0
	for i := range items {
		rec := items[i].Status.Record
		if rec.Status == gitlab.StatusRunning && rec.CreatedAt != nil && now.Sub(rec.CreatedAt.Time) > threshold {
			n++
		}
	}
	return n
}
