package audit

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/state"
)

func TestEveryEventHasItsOwnMessageID(t *testing.T) {
	events := []Event{IssueDetected, IssueResolved, ActionSucceeded, ActionFailed, ActionPlanned, ActionRefused,
		CallAllowed, CallDenied, BreakerOpened, BreakerReset, SettingChanged, PredictionAlert, DaemonStarted,
		StoppedOnPurpose, RestartedBySystemd}
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
	f := Entry{Event: CallDenied, Action: "RestartUnit", Target: "nginx.service", Outcome: "denied", CallerUID: 1000, Caller: ":1.42"}.Fields()
	want := map[string]string{
		"MESSAGE_ID": MessageIDs[CallDenied], "HEALING_EVENT": "call-denied", "HEALING_ACTION": "RestartUnit",
		"HEALING_TARGET": "nginx.service", "HEALING_OUTCOME": "denied", "HEALING_CALLER_UID": "1000",
		"HEALING_CALLER": ":1.42", "OBJECT_SYSTEMD_UNIT": "nginx.service",
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
