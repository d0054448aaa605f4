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

package controller

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// Metrics are rollgate's own metrics on top of controller-runtime's.
type Metrics struct {
	rollouts *prometheus.CounterVec
}

// NewMetrics creates the rollout metrics and, with reader, the gauge of
// records left running longer than threshold; it registers them on reg.
func NewMetrics(reg prometheus.Registerer, reader client.Reader, threshold time.Duration) *Metrics {
	m := &Metrics{
		rollouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rollgate_rollouts_recorded_total",
			Help: "Rollouts whose GitLab record reached a finished status, by that status (success, failed, canceled).",
		}, []string{"status"}),
	}
	reg.MustRegister(m.rollouts)
	if reader != nil {
		reg.MustRegister(&runningCollector{reader: reader, threshold: threshold, clock: clock.RealClock{}})
	}
	return m
}

func (m *Metrics) recorded(status string) {
	if m == nil {
		return
	}
	m.rollouts.WithLabelValues(status).Inc()
}

var runningDesc = prometheus.NewDesc("rollgate_records_running_too_long",
	"GitLab records rollgate left running for longer than the threshold (--running-threshold).", nil, nil)

// runningCollector counts, at scrape time, the records in the cache that
// have said running for longer than the threshold.
type runningCollector struct {
	reader    client.Reader
	threshold time.Duration
	clock     clock.PassiveClock
}

func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) { ch <- runningDesc }

func (c *runningCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(runningDesc, err)
		return
	}
	n := 0
	now := c.clock.Now()
	for i := range list.Items {
		rec := list.Items[i].Status.Record
		if rec.Status == gitlab.StatusRunning && rec.CreatedAt != nil && now.Sub(rec.CreatedAt.Time) > c.threshold {
			n++
		}
	}
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(n))
}
