// Package ctltest is the fixture of healingctl's golden tests: a daemon
// that answers with recorded client records on a private dbus-daemon, a
// fixed now, and the golden files' check (-update rewrites them).
//
// Only _test.go files may import it.
package ctltest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
)

// Now is the fixed clock of the golden tests: healingctl counts ages and
// countdowns from it, and every time in the fixture is relative to it.
var Now = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

var update = flag.Bool("update", false, "rewrite the generated files: the golden files in testdata/golden, the man page in docs/man")

// Update reports whether the test binary runs with -update, which
// rewrites generated files instead of comparing them.
func Update() bool { return *update }

// Golden compares got with testdata/golden/name in the test's package, or
// rewrites the file under -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test with -run %s -update to write it", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -run %s -update rewrites it after a change meant to alter it)\n got:\n%s\nwant:\n%s",
			path, t.Name(), got, want)
	}
}

// SetLocal prints local times in UTC until the test ends, so that golden
// files do not depend on the machine's time zone.
func SetLocal(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })
}

// Daemon answers healingctl's calls with recorded client records,
// on a real private dbus-daemon, so that every command's table and JSON
// can be compared with a golden file. It is a stand-in for the daemon
// because the real engine's output (host name, times, versions) is not
// stable; the records are the ones internal/client decodes from the real
// one. Calls it received are kept for the tests to check.
type Daemon struct {
	Status  client.Status
	History []client.HistoryEntry

	// mu guards calls: the bus's goroutine appends to them while the
	// test reads them.
	mu sync.Mutex
	// calls are the privileged calls it answered, in a word or two each.
	calls []string
}

// Start serves f on a private bus as luminous-healingd and points
// healingctl's system bus there ($DBUS_SYSTEM_BUS_ADDRESS) until the test
// ends.
func Start(t *testing.T, f *Daemon) *Daemon {
	t.Helper()
	bus := bustest.Start(t)
	conn := bus.Conn(t)
	if err := f.export(conn); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(client.BusName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("requesting %s: %v (reply %d)", client.BusName, err, reply)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Address)
	return f
}

// Events are one signal of each kind, as watch receives them.
func Events() []client.Event {
	f := Busy()
	issue, resolved := f.Status.Issues[0], f.Status.Issues[1]
	resolved.State = "resolved"
	return []client.Event{
		{Signal: client.SignalIssueDetected, Issue: &issue},
		{Signal: client.SignalIssueResolved, Issue: &resolved},
		{Signal: client.SignalHealingFailed, Failure: &client.Failure{ActionResult: client.ActionResult{Action: "restart",
			Target: "postgresql.service", Issue: issue.ID, Outcome: "failed", Message: "postgresql.service failed again after its restart",
			Duration: 3 * time.Second}, State: "given-up", Severity: "critical", Attempts: 5, Cause: issue.Cause}},
		{Signal: client.SignalPredictionAlert, Prediction: &f.Status.Predictions[0]},
		{Signal: client.SignalActionCompleted, Result: &client.ActionResult{Action: "cleanup", Outcome: "planned",
			Message: "would start systemd-tmpfiles-clean.service", DryRun: true}},
		{Signal: "PropertiesChanged", Changed: map[string]dbus.Variant{client.PropHealth: dbus.MakeVariant("critical"),
			client.PropActiveIssues: dbus.MakeVariant(uint32(3)), client.PropLastCheck: dbus.MakeVariant(uint64(Now.UnixMicro()))}},
		{Signal: "PropertiesChanged", Changed: map[string]dbus.Variant{client.PropLastCheck: dbus.MakeVariant(uint64(Now.UnixMicro()))}},
		{Signal: client.SignalNameOwnerChanged},
		{Signal: client.SignalNameOwnerChanged, Owner: ":1.42"},
	}
}

// Busy is a daemon with something in every list: every section of
// every table shows.
func Busy() *Daemon {
	at := func(d time.Duration) time.Time { return Now.Add(d) }
	return &Daemon{
		Status: client.Status{
			Summary: client.Summary{Version: "1.2.3", Health: "critical", DryRun: true, HealingEnabled: true, ActiveIssues: 3,
				LastCheck: at(-12 * time.Second), MonitoredUnits: []string{"nginx.service", "postgresql.service", "web.service"},
				ActiveSilences: 1, Mode: "system", Hostname: "web1", ConfigPath: "/etc/luminous-healing/config.toml",
				Started: at(-50 * time.Hour), Interval: time.Minute, Systemd: true,
				SampleError: "reading /proc/pressure/io: no such file or directory",
				Overrides:   []string{"healing.dry_run=true", "thresholds.cpu=70"}},
			Resources: []client.Resource{
				{ID: "cpu", Kind: "cpu", Subject: "cpu", Value: 12.34, Threshold: 70, Severity: "ok"},
				{ID: "memory", Kind: "memory", Subject: "memory", Value: 81.5, Threshold: 80, Severity: "warning"},
				{ID: "load", Kind: "load", Subject: "load", Value: 0.52, Threshold: 3, Severity: "ok"},
				{ID: "disk:/", Kind: "disk", Subject: "/", Value: 96.1, Threshold: 90, Severity: "critical"},
				{ID: "pressure:io", Kind: "pressure", Subject: "io", Value: 1.5, Severity: "ok"},
			},
			Units: []client.UnitState{
				{Name: "nginx.service", ActiveState: "active", SubState: "running"},
				{Name: "postgresql.service", ActiveState: "failed", SubState: "failed"},
				{Name: "web.service", ActiveState: "inactive", SubState: "dead", StoppedOnPurpose: at(-3 * time.Hour), StopJob: "stop"},
			},
			Issues: []client.Issue{
				{ID: "unit:postgresql.service", Kind: "unit", Subject: "postgresql.service", Severity: "critical",
					Since: at(-5 * time.Minute), Action: "restart", State: "given-up", Attempts: 5,
					Message: "postgresql.service failed (exit-code)",
					Cause:   "exit-code: exited with status 1; last log lines: could not bind IPv4 address \"0.0.0.0\""},
				{ID: "disk:/", Kind: "disk", Subject: "/", Severity: "critical", Value: 96.1, Threshold: 90,
					Since: at(-2 * time.Minute), Action: "cleanup", State: "planned", Message: "/ 96.1% full (threshold 90%)"},
				{ID: "memory", Kind: "memory", Subject: "memory", Severity: "warning", Value: 81.5, Threshold: 80,
					Since: at(-40 * time.Second), Action: "none", State: "silenced", Message: "memory at 81.5% (threshold 80%)",
					Silenced: "silence-7f3a", SilenceEffect: "notify-only", Synthetic: true},
			},
			Predictions: []client.Prediction{{Series: "disk:/nix", Kind: "disk", Subject: "/nix", Value: 71, Threshold: 90,
				TrendPerHour: 2.5, TimeToThreshold: 3*time.Hour + 10*time.Minute, Confidence: 0.92, Samples: 120,
				ETA: at(3*time.Hour + 10*time.Minute)}},
			Breakers: []client.Breaker{
				{Issue: "unit:postgresql.service", Failures: 5, GivenUp: true},
				{Issue: "unit:nginx.service", Failures: 2, NextAttempt: at(90 * time.Second)},
				{Issue: "probe:web.service", Failures: 1},
			},
			Throttles: []client.Throttle{{Unit: "batch.service", Since: at(-time.Hour), Issues: []string{"cpu"},
				CPUWeight: 20, MemoryHigh: 512 << 20}},
			Silences: []client.Silence{
				{ID: "silence-7f3a", Scope: "kind:memory", Effect: "notify-only", Reason: "load test until noon",
					Author: "alice (uid 1000)", AuthorUID: 1000, Created: at(-time.Hour), Starts: at(-time.Hour),
					Expires: at(2*time.Hour + 33*time.Minute), Active: true},
				{ID: "window-1", Scope: "all", Effect: "pause", Reason: "weekly maintenance", Author: "configuration",
					AuthorUID: -1, Starts: at(20 * time.Hour), Expires: at(22 * time.Hour), Window: "Sun 05:00..07:00"},
			},
			Probes: []client.Probe{
				{Unit: "nginx.service", Type: "http", Target: "GET http://127.0.0.1/healthz → 200", Interval: 30 * time.Second,
					Timeout: 2 * time.Second, Failures: 3, Action: "restart", LastAt: at(-7 * time.Second),
					LastDuration: 2100 * time.Microsecond, LastOK: true, LastDetail: "status 200 OK"},
				{Unit: "postgresql.service", Type: "tcp", Target: "tcp 127.0.0.1:5432", Interval: time.Minute,
					Timeout: 2 * time.Second, Failures: 3, Action: "restart", Failing: 2, LastAt: at(-20 * time.Second),
					LastDuration: 2 * time.Second, LastDetail: "timed out after 2s"},
				{Unit: "web.service", Type: "command", Target: "/usr/local/bin/check-web", Interval: 5 * time.Minute,
					Timeout: 10 * time.Second, Failures: 1, Action: "none"},
			},
		},
		History: []client.HistoryEntry{
			{Time: at(-30 * time.Second), Event: "action-planned", Action: "cleanup", Issue: "disk:/", Outcome: "planned",
				Message: "would start systemd-tmpfiles-clean.service", CallerUID: -1, DryRun: true},
			{Time: at(-90 * time.Second), Event: "action-failed", Action: "restart", Target: "postgresql.service",
				Issue: "unit:postgresql.service", Outcome: "failed", Message: "postgresql.service failed again after its restart",
				CallerUID: -1, Duration: 3 * time.Second},
			{Time: at(-100 * time.Second), Event: "action-failed", Action: "restart", Target: "postgresql.service",
				Issue: "unit:postgresql.service", Outcome: "failed", Message: "postgresql.service failed again after its restart",
				CallerUID: -1, Duration: 3 * time.Second},
			{Time: at(-5 * time.Minute), Event: "issue-detected", Issue: "unit:postgresql.service",
				Message: "postgresql.service failed (exit-code)", CallerUID: -1},
			{Time: at(-20 * time.Minute), Event: "call-denied", Action: "RestartUnit", Target: "nginx.service", Outcome: "denied",
				Message: "polkit said no", CallerUID: 1001, Caller: ":1.42"},
			{Time: at(-time.Hour), Event: "action-succeeded", Action: "throttle", Target: "batch.service", Issue: "cpu",
				Outcome: "succeeded", Message: "CPUWeight=20 MemoryHigh=512M", CallerUID: -1, Duration: 40 * time.Millisecond},
			{Time: at(-50 * time.Hour), Event: "daemon-started", Message: "luminous-healingd 1.2.3 started", CallerUID: -1},
		},
	}
}

// Quiet is a healthy daemon with nothing to show.
func Quiet() *Daemon {
	return &Daemon{Status: client.Status{Summary: client.Summary{Version: "1.2.3", Health: "ok",
		HealingEnabled: true, LastCheck: Now.Add(-800 * time.Millisecond), Mode: "system", Hostname: "web2",
		Started: Now.Add(-time.Minute), Interval: time.Minute, Systemd: true}}}
}

func (f *Daemon) call(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what)
}

// Calls are the privileged calls f answered so far, in a word or two each.
func (f *Daemon) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// lists are the read methods that answer a list, by D-Bus member.
func (f *Daemon) lists() map[string]func() []map[string]dbus.Variant {
	st := &f.Status
	return map[string]func() []map[string]dbus.Variant{
		"ListResources":  func() []map[string]dbus.Variant { return client.Maps(st.Resources) },
		"ListUnits":      func() []map[string]dbus.Variant { return client.Maps(st.Units) },
		"ListIssues":     func() []map[string]dbus.Variant { return client.Maps(st.Issues) },
		"GetPredictions": func() []map[string]dbus.Variant { return client.Maps(st.Predictions) },
		"ListBreakers":   func() []map[string]dbus.Variant { return client.Maps(st.Breakers) },
		"ListThrottles":  func() []map[string]dbus.Variant { return client.Maps(st.Throttles) },
		"ListSilences":   func() []map[string]dbus.Variant { return client.Maps(st.Silences) },
		"ListProbes":     func() []map[string]dbus.Variant { return client.Maps(st.Probes) },
	}
}

// export serves f's methods: the lists and the methods of its own.
func (f *Daemon) export(conn *dbus.Conn) error {
	table := map[string]any{}
	for name, list := range f.lists() {
		table[name] = func() ([]map[string]dbus.Variant, *dbus.Error) { return list(), nil }
	}
	v := reflect.ValueOf(f)
	for i := range v.NumMethod() {
		table[v.Type().Method(i).Name] = v.Method(i).Interface()
	}
	return conn.ExportMethodTable(table, client.ObjectPath, client.Interface)
}

func (f *Daemon) GetStatus() (map[string]dbus.Variant, *dbus.Error) {
	return client.Encode(f.Status.Summary), nil
}

func (f *Daemon) GetHistory(limit uint32) ([]map[string]dbus.Variant, *dbus.Error) {
	hs := f.History
	if limit > 0 && int(limit) < len(hs) {
		hs = hs[:limit]
	}
	return client.Maps(hs), nil
}

// The privileged methods: the fixture allows everything and answers as
// the daemon does.

func (f *Daemon) result(r client.ActionResult) (map[string]dbus.Variant, *dbus.Error) {
	f.call(r.Action + " " + r.Target + r.Issue)
	return client.Encode(r), nil
}
func (f *Daemon) Heal(id string) (map[string]dbus.Variant, *dbus.Error) {
	return f.result(client.ActionResult{Action: "restart", Target: "postgresql.service", Issue: id, Outcome: "planned",
		Message: "would restart postgresql.service", DryRun: true})
}
func (f *Daemon) RestartUnit(unit string) (map[string]dbus.Variant, *dbus.Error) {
	return f.result(client.ActionResult{Action: "restart", Target: unit, Outcome: "succeeded",
		Message: unit + " is active (running) again", Duration: 1200 * time.Millisecond})
}
func (f *Daemon) Cleanup() (map[string]dbus.Variant, *dbus.Error) {
	return f.result(client.ActionResult{Action: "cleanup", Outcome: "succeeded", Message: "freed 1.5 GiB",
		Duration: 4 * time.Second, FreedBytes: 3 << 29, FreedByMount: map[string]uint64{"/": 1 << 30, "/var": 1 << 29},
		Units: []string{"systemd-tmpfiles-clean.service", "luminous-healing-journal-vacuum.service"}})
}
func (f *Daemon) Throttle(unit string) (map[string]dbus.Variant, *dbus.Error) {
	return f.result(client.ActionResult{Action: "throttle", Target: unit, Outcome: "succeeded",
		Message: "CPUWeight=20 MemoryHigh=512M", Duration: 35 * time.Millisecond, Units: []string{unit},
		Applied: map[string]uint64{"CPUWeight": 20, "MemoryHigh": 512 << 20}})
}
func (f *Daemon) Release(unit string) (map[string]dbus.Variant, *dbus.Error) {
	return f.result(client.ActionResult{Action: "release", Target: unit, Outcome: "succeeded",
		Message: "limits lifted", Duration: 20 * time.Millisecond, Applied: map[string]uint64{"CPUWeight": 100}})
}
func (f *Daemon) ResetBreaker(id string) *dbus.Error { f.call("reset " + id); return nil }
func (f *Daemon) SetDryRun(on bool) *dbus.Error {
	f.call("dry-run " + strconv.FormatBool(on))
	return nil
}
func (f *Daemon) SetHealingEnabled(on bool) *dbus.Error {
	f.call("healing " + strconv.FormatBool(on))
	return nil
}
func (f *Daemon) SetThreshold(kind string, v float64) *dbus.Error {
	f.call("threshold " + kind)
	return nil
}
func (f *Daemon) Reload() *dbus.Error                 { f.call("reload"); return nil }
func (f *Daemon) RemoveSilence(id string) *dbus.Error { f.call("unsilence " + id); return nil }
func (f *Daemon) InjectIssue(in map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	f.call("inject")
	kind, _ := in["kind"].Value().(string)
	subject, _ := in["subject"].Value().(string)
	rec := client.Issue{ID: kind + ":" + subject + ".service", Kind: kind, Subject: subject + ".service", Severity: "warning",
		Since: Now, Action: "restart", State: "planned", Message: subject + ".service failed (injected)", Synthetic: true}
	return client.Encode(rec), nil
}
func (f *Daemon) AddSilence(req map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	f.call("silence")
	scope, _ := req["scope"].Value().(string)
	reason, _ := req["reason"].Value().(string)
	rec := client.Silence{ID: "silence-9b1c", Scope: scope, Effect: "pause", Reason: reason, Author: "root (uid 0)",
		Created: Now, Starts: Now, Expires: Now.Add(2 * time.Hour), Active: true}
	return client.Encode(rec), nil
}
func (f *Daemon) RunProbe(unit string) (map[string]dbus.Variant, *dbus.Error) {
	f.call("probe " + unit)
	for _, p := range f.Status.Probes {
		if p.Unit == unit {
			r := p.Last()
			r.At = Now
			return client.Encode(r), nil
		}
	}
	return nil, dbus.NewError(client.ErrorNotFound, []any{unit + " has no probe"})
}
