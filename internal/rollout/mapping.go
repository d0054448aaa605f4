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

package rollout

import (
	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/gitlab"
)

// RecordAction is what the GitLab record of a rollout needs.
type RecordAction struct {
	// Status the record must have; empty when it needs nothing.
	Status string
	// Create is true when no record exists yet and one must be created.
	Create bool
}

// DesiredRecord maps what the Deployment shows about a rollout to what its
// GitLab record must say (the table in the design), given the record's
// current status ("" when there is no record yet). Only transitions are
// asked for: a record already in the wanted status needs nothing.
func DesiredRecord(state State, record string) RecordAction {
	want := ""
	switch state {
	case StateProgressing:
		// A record that finished cannot be moved back to running; GitLab
		// allows running only from created or blocked.
		if record == "" {
			want = gitlab.StatusRunning
		}
	case StateComplete:
		want = gitlab.StatusSuccess
	case StateDeadlineExceeded:
		// A rollout failed at its deadline; a later success overwrites it.
		if record != gitlab.StatusSuccess {
			want = gitlab.StatusFailed
		}
	case StateSuperseded, StateGone:
		// Only an unfinished record is canceled: a finished rollout stays as
		// it ended, and a rollout never reported is not reported now.
		if record == gitlab.StatusRunning || record == gitlab.StatusCreated {
			want = gitlab.StatusCanceled
		}
	case StateHeld:
		// Held for approval: nothing to say to GitLab yet.
	}
	if want == "" || want == record {
		return RecordAction{}
	}
	return RecordAction{Status: want, Create: record == ""}
}

// Phase summarises the rollout from its state and its record.
func Phase(state State, record string) gitlabv1alpha1.RolloutPhase {
	switch state {
	case StateComplete:
		return gitlabv1alpha1.PhaseSucceeded
	case StateDeadlineExceeded:
		return gitlabv1alpha1.PhaseFailed
	case StateHeld:
		return gitlabv1alpha1.PhaseAwaitingApproval
	case StateProgressing:
		return gitlabv1alpha1.PhaseProgressing
	}
	switch record {
	case gitlab.StatusSuccess:
		return gitlabv1alpha1.PhaseSucceeded
	case gitlab.StatusFailed:
		return gitlabv1alpha1.PhaseFailed
	}
	return gitlabv1alpha1.PhaseCanceled
}

// Remembered is the state a rollout's record must follow when the
// Deployment no longer shows it (superseded or gone): what rollgate saw it
// do before, as its status says. A rollout seen complete (or failed) was
// complete (failed) even if rollgate could not tell GitLab in time, for
// example during a GitLab outage: its record is then success (failed), not
// canceled. Any other state is returned as it is.
func Remembered(state State, status *gitlabv1alpha1.GitLabDeploymentStatus) State {
	if state != StateSuperseded && state != StateGone {
		return state
	}
	switch {
	case status.Phase == gitlabv1alpha1.PhaseSucceeded:
		return StateComplete
	case status.Phase == gitlabv1alpha1.PhaseFailed && status.Record.Status != gitlab.StatusSuccess:
		return StateDeadlineExceeded
	}
	return state
}
