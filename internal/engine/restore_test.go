package engine_test

import (
	"bytes"
	"context"
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
// one: a damaged or hostile state.json restores no throttle on a name that
// is no unit, no weight or memory
// limit outside what a throttle sets, nothing dated in the future, no
// breaker holding healing off for years; each refusal is one log line,
// and the valid records are kept. It failed before: only the threshold
// overrides were checked, and every record below came back.
// A well-formed record on a slice, a scope, a protected unit or the
// daemon's own unit is kept, but only to be released when the engine runs
// (TestARestoredThrottleThePolicyNowBarsIsReleasedAtStart).
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
	// The well-formed records on units the policy bars are kept, to be
	// released when the engine runs (the next test).
	barred := []string{"luminous-healing.service", "session-2.scope", "system.slice", "systemd-logind.service"}
	if want := slices.Sorted(slices.Values(append(barred, "hog.service"))); !slices.Equal(units, want) || st.Throttles[0].CPUWeight != 10 {
		t.Errorf("restored throttles = %q (%+v); want hog.service's first record and the barred %q", units, st.Throttles, barred)
	}
	var ids []string
	for _, b := range st.Breakers {
		ids = append(ids, b.IssueID)
	}
	if !slices.Equal(ids, []string{"unit:web.service"}) {
		t.Errorf("restored breakers = %q; want unit:web.service only", ids)
	}
	lines := strings.Count(logged.String(), "dropping a record that cannot be restored")
	if want := len(throttles) - 1 - len(barred) + len(breakers) - 1; lines != want {
		t.Errorf("%d refusals logged; want %d, one per record dropped:\n%s", lines, want, logged.String())
	}
	if strings.ContainsAny(logged.String(), "\x1b\x07") {
		t.Errorf("a refusal's log line carries the file's control characters:\n%q", logged.String())
	}
}

// A well-formed throttle saved by an earlier run on a unit the policy now
// bars — here one the administrator made protected after seeing it
// throttled, and one on the daemon's own unit — is released when the
// daemon starts: the previous CPUWeight and MemoryHigh go back on the unit
// (systemd keeps runtime properties until reboot), and the daemon says so
// in its log. It failed before: both records were dropped, the daemon
// forgot them and the units stayed throttled until reboot. (systemd is
// the fake here: the test is about what the daemon asks of it.)
func TestARestoredThrottleThePolicyNowBarsIsReleasedAtStart(t *testing.T) {
	now := time.Now()
	const mib = 1 << 20
	throttles := []heal.Throttled{
		{Unit: "hog.service", Since: now.Add(-time.Minute), Issues: []string{"cpu"},
			CPUWeight: 10, PrevCPUWeight: 100, MemoryHigh: 512 * mib, PrevMemoryHigh: heal.Unset},
		{Unit: "luminous-healing.service", Since: now.Add(-time.Minute), Issues: []string{"memory"},
			MemoryHigh: 256 * mib, PrevMemoryHigh: 1024 * mib, PrevCPUWeight: heal.Unset},
	}
	saved, err := json.Marshal(map[string]any{"Throttles": throttles})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir.Path(), "state.json"), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := enginetest.Config(time.Hour)
	cfg.Services.Protected = []string{"hog.service"}
	var logged lockedBuffer
	e := enginetest.New(t, enginetest.Setup{Config: cfg, Self: "luminous-healing.service",
		Units: []heal.UnitStatus{
			{Name: "hog.service", ActiveState: "active", CPUWeight: 10, MemoryHigh: 512 * mib},
			{Name: "luminous-healing.service", ActiveState: "active", MemoryHigh: 256 * mib},
		},
		Options: func(o *engine.Options) {
			o.State = dir
			o.Log = slog.New(slog.NewTextHandler(&logged, nil))
		}})
	ctx, cancel := context.WithCancel(t.Context())
	done := e.Start(ctx)
	defer func() { cancel(); <-done }()
	unit := func(name string) heal.UnitStatus {
		u, _ := e.Systemd.Unit(t.Context(), name)
		return u
	}
	waitFor(t, "both throttles released", func() bool { return len(e.Status().Throttles) == 0 })
	if u := unit("hog.service"); u.CPUWeight != 100 || u.MemoryHigh != heal.Unset {
		t.Errorf("hog.service after the start: CPUWeight %d, MemoryHigh %d; want its previous 100 and infinity back", u.CPUWeight, u.MemoryHigh)
	}
	if u := unit("luminous-healing.service"); u.MemoryHigh != 1024*mib {
		t.Errorf("the daemon's unit after the start: MemoryHigh %d; want its previous %d back", u.MemoryHigh, 1024*mib)
	}
	if n := strings.Count(logged.String(), "released at start"); n != 2 {
		t.Errorf("%d release lines logged; want 2:\n%s", n, logged.String())
	}
	if strings.Contains(logged.String(), "dropping a record") {
		t.Errorf("a well-formed record was dropped:\n%s", logged.String())
	}
}
