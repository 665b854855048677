package heal_test

import (
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// A planned throttle without systemd (the try-it mode in a container) cannot
// name its unit; it says why instead of "throttle the top consumer", which
// read as if a unit had been chosen.
func TestAThrottlePlannedWithoutSystemdSaysWhyItNamesNoUnit(t *testing.T) {
	h := heal.New(nil, testSettings(), nil)
	h.SetDryRun(true)
	res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: issue.Record{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Severity: issue.Warning}})
	if res.Outcome != heal.Planned {
		t.Fatalf("got %s (%s); want planned", res.Outcome, res.Message)
	}
	if res.Target == "the top consumer" || !strings.Contains(res.Message, "systemd is not reachable") {
		t.Errorf("target %q, message %q; want no made-up target and the reason no unit is named", res.Target, res.Message)
	}
}
