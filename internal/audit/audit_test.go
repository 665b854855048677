package audit

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/securitytest"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

func TestEveryEventHasItsOwnMessageID(t *testing.T) {
	events := []Event{IssueDetected, IssueResolved, ActionSucceeded, ActionFailed, ActionPlanned, ActionRefused,
		CallAllowed, CallDenied, BreakerOpened, BreakerReset, SettingChanged, PredictionAlert, DaemonStarted,
		StoppedOnPurpose, RestartedBySystemd, SilenceAdded, SilenceEnded}
	seen := map[string]Event{}
	id128 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, e := range events {
		id := MessageIDs[e]
		if !id128.MatchString(id) {
			t.Errorf("%s: MESSAGE_ID %q is not 32 lowercase hex digits", e, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share MESSAGE_ID %s", e, other, id)
		}
		seen[id] = e
	}
	if len(MessageIDs) != len(events) {
		t.Errorf("%d MESSAGE_IDs for %d events", len(MessageIDs), len(events))
	}
}

func TestFieldsCarryWhoDidWhatToWhat(t *testing.T) {
	at := time.UnixMicro(1_790_000_000_123_456)
	f := Entry{Time: at, Event: CallDenied, Action: "RestartUnit", Target: "nginx.service", Outcome: "denied", CallerUID: 1000, Caller: ":1.42"}.Fields()
	want := map[string]string{
		"MESSAGE_ID": MessageIDs[CallDenied], "HEALING_EVENT": "call-denied", "HEALING_ACTION": "RestartUnit",
		"HEALING_TARGET": "nginx.service", "HEALING_OUTCOME": "denied", "HEALING_CALLER_UID": "1000",
		"HEALING_CALLER": ":1.42", "OBJECT_SYSTEMD_UNIT": "nginx.service", "HEALING_TIME_USEC": "1790000000123456",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("field %s = %q; want %q", k, f[k], v)
		}
	}
	valid := regexp.MustCompile(`^[A-Z0-9][A-Z0-9_]*$`)
	for k := range f {
		if !valid.MatchString(k) {
			t.Errorf("field name %q is not a valid journal field name", k)
		}
	}
}

func TestHistoryIsBoundedNewestFirstAndPersisted(t *testing.T) {
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	l := New(Options{Size: 3, Store: dir})
	for i := range 5 {
		l.Record(Entry{Event: ActionSucceeded, Target: string(rune('a'+i)) + ".service", Time: time.Unix(int64(i), 0)})
	}
	h := l.History(0)
	if len(h) != 3 || h[0].Target != "e.service" || h[2].Target != "c.service" {
		t.Fatalf("history = %+v; want e, d, c", h)
	}
	if got := l.History(1); len(got) != 1 || got[0].Target != "e.service" {
		t.Errorf("History(1) = %+v; want only e", got)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	again := New(Options{Size: 3, Store: dir})
	if got := again.History(0); len(got) != 3 || got[0].Target != "e.service" {
		t.Errorf("after reload: %+v; want e, d, c", got)
	}
}

func TestAFloodOfDeniedCallsEvictsNeitherWhatOthersDidNorOtherCallersDenials(t *testing.T) {
	securitytest.Tried(t, securitytest.Flood, "1,200 denial records from one uid into a 50-entry history", 1200)
	l := New(Options{Size: 50})
	base := time.Unix(1000, 0)
	for i := range 10 {
		l.Record(Entry{Event: CallAllowed, Action: "RestartUnit", CallerUID: 0, Time: base.Add(time.Duration(i) * time.Second)})
		l.Record(Entry{Event: ActionSucceeded, Action: "restart", Target: "web.service", CallerUID: 0, Time: base.Add(time.Duration(i) * time.Second)})
	}
	l.Record(Entry{Event: CallDenied, Action: "Heal", CallerUID: 1001, Time: base.Add(11 * time.Second)})
	for i := range 1200 {
		l.Record(Entry{Event: CallDenied, Action: "Heal", Outcome: "rate-limited", CallerUID: 1000, Time: base.Add(12*time.Second + time.Duration(i)*time.Millisecond)})
	}
	byEvent := map[Event]int{}
	others := 0
	for _, e := range l.History(0) {
		byEvent[e.Event]++
		if e.Event == CallDenied && e.CallerUID == 1001 {
			others++
		}
	}
	if byEvent[CallAllowed] != 10 || byEvent[ActionSucceeded] != 10 {
		t.Errorf("after a flood of 1,200 denials: %d call-allowed and %d action-succeeded records; want 10 and 10", byEvent[CallAllowed], byEvent[ActionSucceeded])
	}
	if others != 1 {
		t.Errorf("uid 1001's denial: %d records; want 1: one caller's flood evicted another's", others)
	}
	if byEvent[CallDenied] > 11 {
		t.Errorf("%d denial records kept; want at most a fifth of the history (10) plus one", byEvent[CallDenied])
	}
	h := l.History(0)
	for i := 1; i < len(h); i++ {
		if h[i].Time.After(h[i-1].Time) {
			t.Fatalf("history not newest first at %d: %v after %v", i, h[i].Time, h[i-1].Time)
		}
	}
}

func TestACleanupsFieldsSayWhatItFreedPerMount(t *testing.T) {
	f := Entry{Event: ActionSucceeded, Action: "cleanup", Outcome: "succeeded", CallerUID: Daemon,
		FreedBytes: 3 << 20, FreedByMount: map[string]uint64{"/nix": 2 << 20, "/boot": 1 << 20}}.Fields()
	if got, want := f["HEALING_FREED_BY_MOUNT"], "/boot=1048576 /nix=2097152"; got != want {
		t.Errorf("HEALING_FREED_BY_MOUNT = %q; want %q", got, want)
	}
	if got := f["HEALING_FREED_BYTES"]; got != "3145728" {
		t.Errorf("HEALING_FREED_BYTES = %q; want 3145728", got)
	}
}
