package engine_test

import (
	"fmt"
	"reflect"
	"testing"
	"testing/synctest"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// states returns "Signal state" for each issue event published so far.
func (h *harness) states() []string {
	var out []string
	for {
		select {
		case ev := <-h.events:
			switch ev.Type {
			case engine.IssueDetected, engine.IssueChanged, engine.IssueResolved:
				out = append(out, fmt.Sprintf("%s %s", ev.Type, ev.Issue.State))
			}
		default:
			return out
		}
	}
}

// Every state an issue is moved to is announced: a client that follows
// the signals ends with the state the daemon has. It failed before: the
// issue was announced open and then turned watching (healing off) or
// healing without any signal, and the notifier had to guess.
func TestEveryMoveOfAnIssuesStateIsAnnounced(t *testing.T) {
	for _, tc := range []struct {
		name    string
		healing bool
		want    []string
	}{
		{"healing off: open, then watching", false, []string{"IssueDetected open", "IssueChanged watching"}},
		{"healing on: open, healing, then resolved", true, []string{"IssueDetected open", "IssueChanged healing", "IssueResolved resolved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, setup{units: []heal.UnitStatus{active("web.service")},
					cfg: func(c *config.Config) { c.Healing.Enabled = tc.healing }})
				synctest.Wait()
				h.states()
				h.unit("web.service", "failed", "failed")
				synctest.Wait()
				got := h.states()
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("issue signals = %q; want %q", got, tc.want)
				}
				rec, open := h.issue("unit:web.service")
				if open && got[len(got)-1] != "IssueChanged "+string(rec.State) {
					t.Errorf("last signal %q; the issue is %s", got[len(got)-1], rec.State)
				}
			})
		})
	}
}
