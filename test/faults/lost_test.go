package faults

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// TestLostAnswers rolls out commits while GitLab serves every POST and PUT
// but loses the answer of half of them: the change is made, the client sees
// a dropped connection. Promises: a lost POST answer is adopted, never
// repeated into a second record; a lost PUT answer is found out; every final
// status right.
func TestLostAnswers(t *testing.T) {
	mgr := startManager(t, "manager", nil)
	s := newStream(t, "lost", params.Deployments, mgr)
	start := time.Now()
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		id := gitLab.AddFault(gitlabtest.Fault{Kind: gitlabtest.FaultLoseAnswer, Method: method, Probability: 0.5})
		defer gitLab.RemoveFault(id)
	}
	runFor(t.Context(), s, params.LostRollouts, params.LostDuration)
	gitLab.ClearFaults()
	end := time.Now()
	v, catchUp := settle(t, s.oracle, s.project, end)

	lost := func(method string) (lost, all int) {
		for _, r := range requests(s.project, start, end, nil) {
			if r.Method == method {
				all++
				if strings.Contains(r.Fault, string(gitlabtest.FaultLoseAnswer)) {
					lost++
				}
			}
		}
		return lost, all
	}
	lostPosts, posts := lost(http.MethodPost)
	lostPuts, puts := lost(http.MethodPut)
	rows := s.kindRows()
	rows = append(rows, [][2]string{
		{"POST answers lost / POSTs", fmt.Sprintf("%d / %d", lostPosts, posts)},
		{"PUT answers lost / PUTs", fmt.Sprintf("%d / %d", lostPuts, puts)},
		{"time to settle once answers arrive again", catchUpString(v, catchUp)},
	}...)
	logTable(t, "Lost answers: "+t.Name(), append(rows, verdictRows(v)...))
	assertVerdict(t, v)
}
