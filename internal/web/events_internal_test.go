package web

import (
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
)

func TestRecentActionsFoldRepeats(t *testing.T) {
	refused := audit.Entry{Event: audit.ActionRefused, Action: "cleanup", Issue: "disk:/nix", Outcome: "refused", Message: "no cleanup units"}
	restart := audit.Entry{Event: audit.ActionSucceeded, Action: "restart", Target: "nginx.service", Outcome: "succeeded", Message: "restarted"}
	other := audit.Entry{Event: audit.IssueDetected, Issue: "cpu"}
	var history []audit.Entry // newest first, as audit.Log.History returns it
	history = append(history, restart, refused, other, refused, refused, restart)
	for i := range 20 {
		history = append(history, audit.Entry{Event: audit.ActionPlanned, Action: "throttle", Outcome: "planned", Message: time.Duration(i).String()})
	}
	got := recent(history)
	want := []struct {
		action  string
		repeats int
	}{{"restart", 1}, {"cleanup", 3}, {"restart", 1}}
	if len(got) != recentActions {
		t.Fatalf("got %d actions; want the latest %d", len(got), recentActions)
	}
	for i, w := range want {
		if got[i]["action"] != w.action || got[i]["repeats"] != w.repeats {
			t.Errorf("action %d: got %v ×%v; want %s ×%d", i, got[i]["action"], got[i]["repeats"], w.action, w.repeats)
		}
	}
}
