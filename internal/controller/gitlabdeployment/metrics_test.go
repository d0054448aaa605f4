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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

func TestRolloutPhaseMetricLabelsEachRollout(t *testing.T) {
	g := NewWithT(t)
	d := stepDeployment(nil)
	held := stepRollout(d, func(gld *gitlabv1alpha1.GitLabDeployment) { gld.Status.Phase = gitlabv1alpha1.PhaseAwaitingApproval })
	fresh := stepRollout(d, func(gld *gitlabv1alpha1.GitLabDeployment) { gld.Name, gld.UID = "web-2", "uid-2" })
	c := &runningCollector{reader: fake.NewClientBuilder().WithScheme(stepScheme()).WithObjects(held, fresh).Build(), threshold: time.Hour}
	want := `
# HELP rollgate_rollout_phase 1 for each GitLabDeployment, labelled with its phase (Pending before it has one), for alerts that select rollouts.
# TYPE rollgate_rollout_phase gauge
rollgate_rollout_phase{environment="staging",name="web-1",namespace="apps",phase="AwaitingApproval"} 1
rollgate_rollout_phase{environment="staging",name="web-2",namespace="apps",phase="Pending"} 1
`
	g.Expect(testutil.CollectAndCompare(c, strings.NewReader(want), "rollgate_rollout_phase")).To(Succeed())
}
