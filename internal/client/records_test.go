package client

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// record is any record struct: what Encode takes.
type record = any

// someTime has whole microseconds, which is what the wire keeps.
var someTime = time.UnixMicro(1_760_000_000_123_456)

func sampleRecords() []record {
	issue := Issue{ID: "unit:nginx.service", Kind: "unit", Subject: "nginx.service", Severity: "critical",
		Value: 1.5, Threshold: 2, Since: someTime, Action: "restart", State: "failed", Message: "nginx failed",
		Synthetic: true, Attempts: 3}
	pred := Prediction{Series: "disk:/", Kind: "disk", Subject: "/", Value: 70, Threshold: 90, TrendPerHour: 1.5,
		TimeToThreshold: 3 * time.Hour, Confidence: 0.9, Samples: 40, ETA: someTime}
	res := ActionResult{Action: "throttle", Target: "x.service", Issue: "cpu", Outcome: "succeeded", Message: "m",
		DryRun: true, Duration: 1500 * time.Microsecond, FreedBytes: 7, FreedByMount: map[string]uint64{"/nix": 7}, Units: []string{"x.service"},
		Applied: map[string]uint64{"CPUWeight": 20}, Escalated: true}
	status := sampleStatus(issue, pred)
	return []record{
		issue, pred, res,
		HistoryEntry{Time: someTime, Event: "call-denied", Action: "Heal", Target: "a.service", Issue: "cpu",
			Outcome: "denied", Message: "m", CallerUID: -1, Caller: ":1.4", DryRun: true, Duration: time.Second, FreedBytes: 9, FreedByMount: map[string]uint64{"/boot": 4, "/": 5}},
		Failure{ActionResult: res, State: "given-up", Severity: "critical", Attempts: 5},
		status.Summary, status.Resources[0], status.Units[0], status.Breakers[0], status.Throttles[0],
		status.Probes[0], status.Probes[0].Last(),
	}
}

// sampleStatus is a Status with one of everything; its lists are records
// of their own on the wire.
func sampleStatus(issue Issue, pred Prediction) Status {
	return Status{
		Summary: Summary{Version: "1", Health: "warning", DryRun: true, HealingEnabled: true, ActiveIssues: 1,
			LastCheck: someTime, MonitoredUnits: []string{"a.service"}, Mode: "user", Hostname: "h", ConfigPath: "/c",
			Started: someTime, Interval: time.Minute, Systemd: true, SampleError: "e"},
		Resources:   []Resource{{ID: "disk:/", Kind: "disk", Subject: "/", Value: 50, Threshold: 90, Severity: "ok"}},
		Units:       []UnitState{{Name: "a.service", ActiveState: "active", SubState: "running"}},
		Issues:      []Issue{issue},
		Predictions: []Prediction{pred},
		Breakers:    []Breaker{{Issue: "unit:a.service", Failures: 2, NextAttempt: someTime, GivenUp: true}},
		Throttles:   []Throttle{{Unit: "b.service", Since: someTime, Issues: []string{"cpu"}, CPUWeight: 20, MemoryHigh: 1 << 30}},
		Probes: []Probe{{Unit: "a.service", Type: "http", Target: "GET http://127.0.0.1/ → 200", Interval: time.Second,
			Timeout: time.Second / 2, Grace: time.Minute, Failures: 3, Action: "restart", Failing: 1, LastAt: someTime,
			LastDuration: 1500 * time.Microsecond, LastOK: false, LastDetail: "status 500 Internal Server Error, want 200"}},
	}
}

func decode(r record, m map[string]dbus.Variant) record {
	switch r.(type) {
	case Issue:
		return Decode[Issue](m)
	case Prediction:
		return Decode[Prediction](m)
	case ActionResult:
		return Decode[ActionResult](m)
	case HistoryEntry:
		return Decode[HistoryEntry](m)
	case Failure:
		return Decode[Failure](m)
	case Summary:
		return Decode[Summary](m)
	case Resource:
		return Decode[Resource](m)
	case UnitState:
		return Decode[UnitState](m)
	case Breaker:
		return Decode[Breaker](m)
	case Throttle:
		return Decode[Throttle](m)
	case Probe:
		return Decode[Probe](m)
	case ProbeResult:
		return Decode[ProbeResult](m)
	}
	panic("no decoder")
}

func TestRecordsSurviveTheWire(t *testing.T) {
	for _, r := range sampleRecords() {
		t.Run(reflect.TypeOf(r).Name(), func(t *testing.T) {
			// Through a real D-Bus message body, as a reply would go.
			msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
				dbus.FieldPath: dbus.MakeVariant(dbus.ObjectPath("/x")), dbus.FieldInterface: dbus.MakeVariant("a.b"),
				dbus.FieldMember: dbus.MakeVariant("C")}, Body: []any{Encode(r)}}
			msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(msg.Body...))
			var buf bytes.Buffer
			if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
				t.Fatal(err)
			}
			back, err := dbus.DecodeMessage(&buf)
			if err != nil {
				t.Fatal(err)
			}
			got := decode(r, back.Body[0].(map[string]dbus.Variant))
			if !reflect.DeepEqual(got, r) {
				t.Errorf("got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestDecodingToleratesMissingAndMistypedKeys(t *testing.T) {
	got := Decode[Issue](map[string]dbus.Variant{"id": dbus.MakeVariant(uint32(4)), "kind": dbus.MakeVariant("cpu"), "new_key": dbus.MakeVariant(1)})
	if want := (Issue{Kind: "cpu"}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
}

func TestInjectionKeysCoverTheInjection(t *testing.T) {
	in := Injection{Kind: "unit", Subject: "a", Severity: "critical", Value: 1, Threshold: 2, Message: "m"}
	for k, val := range Encode(in) {
		if InjectionKeys[k] != val.Signature().String() {
			t.Errorf("key %s has type %s; InjectionKeys says %q", k, val.Signature(), InjectionKeys[k])
		}
	}
	if len(Encode(in)) != len(InjectionKeys) {
		t.Errorf("a full injection has %d keys; InjectionKeys lists %d", len(Encode(in)), len(InjectionKeys))
	}
}
