package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The resilience scenarios (issue 12: full disks, slow disks, memory
// pressure, restarts) each add one row to a summary table that TestMain
// prints, and appends to the report, once the suite has run.
var summary struct {
	mu   sync.Mutex
	rows [][3]string // scenario, outcome, figure
}

// scenario is one row of the summary table.
type scenario struct {
	t      *testing.T
	name   string
	mu     sync.Mutex
	figure string
}

// newScenario registers a row for t; its outcome is read when t ends.
func newScenario(t *testing.T, name string) *scenario {
	s := &scenario{t: t, name: name, figure: "-"}
	t.Cleanup(func() {
		outcome := "passed"
		switch {
		case t.Skipped():
			outcome = "skipped"
		case t.Failed():
			outcome = "FAILED"
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		summary.mu.Lock()
		summary.rows = append(summary.rows, [3]string{s.name, outcome, s.figure})
		summary.mu.Unlock()
	})
	return s
}

// set records the scenario's figures and reports them.
func (s *scenario) set(format string, args ...any) {
	s.t.Helper()
	s.mu.Lock()
	s.figure = fmt.Sprintf(format, args...)
	s.mu.Unlock()
	report(s.t, "%s", s.figure)
}

// summaryTable is the table, or "" when no scenario ran.
func summaryTable() string {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	if len(summary.rows) == 0 {
		return ""
	}
	rows := append(slices.Clone(summary.rows), [3]string{"6 wall clock jumps ±1 h", "unit test",
		"the wall clock is never set here: predict.TestAClockJumpMakesNoFalseForecast injects the samples' times; durations use Go's monotonic clock"})
	slices.SortStableFunc(rows, func(a, b [3]string) int { return scenarioNumber(a[0]) - scenarioNumber(b[0]) })
	w := [2]int{len("scenario"), len("outcome")}
	for _, r := range rows {
		w[0], w[1] = max(w[0], len(r[0])), max(w[1], len(r[1]))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "== resilience scenarios (issue 12) ==\n%-*s  %-*s  %s\n", w[0], "scenario", w[1], "outcome", "figure")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", w[0], r[0], w[1], r[1], r[2])
	}
	return b.String()
}

// scenarioNumber is the number of a scenario ("9a …" is 9).
func scenarioNumber(name string) int {
	n := 0
	for _, c := range name {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
