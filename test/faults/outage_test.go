package faults

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// TestOutages rolls out commits while GitLab answers 503 for the outage
// length, lets rollgate catch up, then again while GitLab drops every
// connection. Promises: what the Deployments did during the outage reaches
// GitLab once it is back (no duplicate, nothing left running, every final
// status right), without a hot loop during the outage.
func TestOutages(t *testing.T) {
	mgr := startManager(t, "manager", nil)
	s := newStream(t, "outage", params.Deployments, mgr)
	rows := make([][2]string, 0, 16)
	for _, outage := range []struct {
		name  string
		fault gitlabtest.Fault
	}{
		{"503", gitlabtest.Fault{Kind: gitlabtest.FaultError, Status: http.StatusServiceUnavailable}},
		{"dropped connections", gitlabtest.Fault{Kind: gitlabtest.FaultDrop}},
	} {
		start := time.Now()
		id := gitLab.AddFault(outage.fault)
		before := s.oracle.all()
		s.run(t.Context(), params.OutageRollouts/2, params.Outage)
		sleepUntil(t.Context(), start.Add(params.Outage))
		gitLab.RemoveFault(id)
		end := time.Now()
		during := requests(s.project, start, end, nil)
		rollouts := len(s.oracle.all()) - len(before)
		v, catchUp := settle(t, s.oracle, s.project, end)
		caught := catchUpString(v, catchUp)
		rows = append(rows, [][2]string{
			{outage.name + ": outage length", end.Sub(start).Round(time.Second).String()},
			{outage.name + ": rollouts during the outage", fmt.Sprint(rollouts)},
			{outage.name + ": requests during the outage", fmt.Sprint(len(during))},
			{outage.name + ": requests per rollout during the outage", fmt.Sprintf("%.1f", float64(len(during))/float64(max(rollouts, 1)))},
			{outage.name + ": peak requests in one second", fmt.Sprint(peakRate(during))},
			{outage.name + ": time to catch up after the outage", caught},
		}...)
	}
	v := judge(s.oracle, s.project)
	rows = append(rows, s.kindRows()...)
	logTable(t, "Outages: "+t.Name(), append(rows, verdictRows(v)...))
	assertVerdict(t, v)
}
