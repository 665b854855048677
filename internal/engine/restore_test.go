package engine_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

// Restored throttles and breakers pass the rules live ones keep, one by
// one: a damaged or hostile state.json restores no throttle on a slice, a
// scope, a protected unit or a name that is no unit, no weight or memory
// limit outside what a throttle sets, nothing dated in the future, no
// breaker holding healing off for years; each refusal is one log line,
// and the valid records are kept. It failed before: only the threshold
// overrides were checked, and every record below came back.
func TestRestoredThrottlesAndBreakersPassTheRulesLiveOnesKeep(t *testing.T) {
	now := time.Now()
	future := now.Add(24 * time.Hour)
	valid := heal.Throttled{Unit: "hog.service", Since: now.Add(-time.Minute), Issues: []string{"cpu"},
		PrevCPUWeight: heal.Unset, PrevMemoryHigh: heal.Unset, CPUWeight: 10}
	throttle := func(f func(*heal.Throttled)) heal.Throttled {
		t := valid
		f(&t)
		return t
	}
	throttles := []heal.Throttled{
		valid,
		throttle(func(t *heal.Throttled) { t.Unit = "system.slice" }),
		throttle(func(t *heal.Throttled) { t.Unit = "session-2.scope" }),
		throttle(func(t *heal.Throttled) { t.Unit = "systemd-logind.service" }),
		throttle(func(t *heal.Throttled) { t.Unit = "luminous-healing.service" }),
		throttle(func(t *heal.Throttled) { t.Unit = "../etc/x\x1b[2J" }),
		throttle(func(t *heal.Throttled) { t.Unit = "a.service"; t.PrevMemoryHigh = 1024 }),
		throttle(func(t *heal.Throttled) { t.Unit = "b.service"; t.CPUWeight = 1 << 40 }),
		throttle(func(t *heal.Throttled) { t.Unit = "c.service"; t.Since = future }),
		throttle(func(t *heal.Throttled) { t.Unit = "d.service"; t.Issues = []string{"unit:\x07"} }),
		throttle(func(t *heal.Throttled) { t.CPUWeight = 20 }), // a second record for hog.service
	}
	breakers := []heal.BreakerRecord{
		{IssueID: "unit:web.service", Failures: []time.Time{now.Add(-time.Minute)}, Next: now.Add(time.Minute)},
		{IssueID: "unit:db.service", Next: now.Add(10 * 365 * 24 * time.Hour)},
		{IssueID: "unit:mail.service", Failures: slices.Repeat([]time.Time{now.Add(-time.Minute)}, 1000)},
		{IssueID: "unit:dns.service", Failures: []time.Time{future}},
		{IssueID: "cpu", LastSuccess: future},
		{IssueID: "unit:\x1b]0;pwned\x07", GivenUp: true},
		{IssueID: "", GivenUp: true},
	}
	saved, err := json.Marshal(map[string]any{"Throttles": throttles, "Breakers": breakers})
	if err != nil {
		t.Fatal(err)
	}
	securitytest.Tried(t, securitytest.BadInput, "state.json with throttles on slices, scopes, protected units, bad names, absurd limits and future times, and absurd breakers", len(throttles)-1+len(breakers)-1)
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir.Path(), "state.json"), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	e := enginetest.New(t, enginetest.Setup{Self: "luminous-healing.service", Options: func(o *engine.Options) {
		o.State = dir
		o.Log = slog.New(slog.NewTextHandler(&logged, nil))
	}})
	st := e.Status()
	var units []string
	for _, th := range st.Throttles {
		units = append(units, th.Unit)
	}
	if len(st.Throttles) != 1 || st.Throttles[0].Unit != "hog.service" || st.Throttles[0].CPUWeight != 10 {
		t.Errorf("restored throttles = %q (%+v); want hog.service's first record only", units, st.Throttles)
	}
	var ids []string
	for _, b := range st.Breakers {
		ids = append(ids, b.IssueID)
	}
	if !slices.Equal(ids, []string{"unit:web.service"}) {
		t.Errorf("restored breakers = %q; want unit:web.service only", ids)
	}
	lines := strings.Count(logged.String(), "dropping a record that cannot be restored")
	if want := len(throttles) - 1 + len(breakers) - 1; lines != want {
		t.Errorf("%d refusals logged; want %d, one per record dropped:\n%s", lines, want, logged.String())
	}
	if strings.ContainsAny(logged.String(), "\x1b\x07") {
		t.Errorf("a refusal's log line carries the file's control characters:\n%q", logged.String())
	}
}
