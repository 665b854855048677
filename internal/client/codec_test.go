package client

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// A string from the daemon reaches terminals and notifications whether it
// came alone or in a list: unit names in monitored_units and units,
// issue ids in a throttle's issues, mount points in freed_by_mount.
// (Before the codec read the tags, only lone strings were made printable.)
func TestDecodedListsAndMapKeysArePrintable(t *testing.T) {
	evil := "a.service\x1b]0;pwned\x07"
	want := `a.service\x1b]0;pwned\x07`
	s := Decode[Summary](map[string]dbus.Variant{"monitored_units": dbus.MakeVariant([]string{"ok.service", evil})})
	if got := s.MonitoredUnits; !reflect.DeepEqual(got, []string{"ok.service", want}) {
		t.Errorf("monitored_units: got %q; want %q", got, []string{"ok.service", want})
	}
	r := Decode[ActionResult](map[string]dbus.Variant{
		"units":          dbus.MakeVariant([]string{evil}),
		"freed_by_mount": dbus.MakeVariant(map[string]uint64{"/srv\u202e": 7}),
	})
	if !reflect.DeepEqual(r.Units, []string{want}) {
		t.Errorf("units: got %q; want %q", r.Units, []string{want})
	}
	if !reflect.DeepEqual(r.FreedByMount, map[string]uint64{`/srv\u202e`: 7}) {
		t.Errorf("freed_by_mount: got %v; want the key escaped", r.FreedByMount)
	}
}

func TestDecodingIsTolerant(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]dbus.Variant
		want any
		got  func(map[string]dbus.Variant) any
	}{
		{"an unknown key is ignored, a mistyped one left zero",
			map[string]dbus.Variant{"kind": dbus.MakeVariant("cpu"), "value": dbus.MakeVariant(uint32(4)),
				"since": dbus.MakeVariant("yesterday"), "new_key": dbus.MakeVariant(1), "attempts": {}, "message": {}},
			Issue{Kind: "cpu"}, func(m map[string]dbus.Variant) any { return Decode[Issue](m) }},
		{"a time of 0 is no time, a duration is µs",
			map[string]dbus.Variant{"time": dbus.MakeVariant(uint64(0)), "duration_usec": dbus.MakeVariant(uint64(1500))},
			HistoryEntry{Duration: 1500 * time.Microsecond}, func(m map[string]dbus.Variant) any { return Decode[HistoryEntry](m) }},
		{"a time or duration too large for Go's types is mistyped, not wrapped negative",
			map[string]dbus.Variant{"time": dbus.MakeVariant(uint64(math.MaxInt64) + 1),
				"duration_usec": dbus.MakeVariant(uint64(math.MaxUint64 / 2))},
			HistoryEntry{}, func(m map[string]dbus.Variant) any { return Decode[HistoryEntry](m) }},
		{"the largest time and duration Go's types hold decode as sent",
			map[string]dbus.Variant{"time": dbus.MakeVariant(uint64(math.MaxInt64)),
				"duration_usec": dbus.MakeVariant(uint64(math.MaxInt64 / 1000))},
			HistoryEntry{Time: time.UnixMicro(math.MaxInt64), Duration: math.MaxInt64 / 1000 * time.Microsecond},
			func(m map[string]dbus.Variant) any { return Decode[HistoryEntry](m) }},
		{"empty lists and maps decode as none",
			map[string]dbus.Variant{"units": dbus.MakeVariant([]string{}), "applied": dbus.MakeVariant(map[string]uint64{}),
				"freed_by_mount": dbus.MakeVariant(map[string]uint64{})},
			ActionResult{}, func(m map[string]dbus.Variant) any { return Decode[ActionResult](m) }},
		{"a list of the wrong type is none",
			map[string]dbus.Variant{"issues": dbus.MakeVariant([]uint32{1}), "cpu_weight": dbus.MakeVariant(int64(5))},
			Throttle{}, func(m map[string]dbus.Variant) any { return Decode[Throttle](m) }},
		{"an embedded record decodes from the same map",
			map[string]dbus.Variant{"action": dbus.MakeVariant("restart"), "state": dbus.MakeVariant("given-up")},
			Failure{ActionResult: ActionResult{Action: "restart"}, State: "given-up"},
			func(m map[string]dbus.Variant) any { return Decode[Failure](m) }},
		{"a nil map is a zero record", nil, Probe{}, func(m map[string]dbus.Variant) any { return Decode[Probe](m) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeAllOfNothingIsNil(t *testing.T) {
	if got := DecodeAll[Issue]([]map[string]dbus.Variant{}); got != nil {
		t.Errorf("got %#v; want nil", got)
	}
}

func TestStatusListsRoundTripAsNestedRecords(t *testing.T) {
	st := sampleStatus(sampleRecords()[0].(Issue), sampleRecords()[1].(Prediction))
	st.Silences = []Silence{{ID: "silence-1", Scope: "all", Expires: someTime, AuthorUID: 1000}}
	st.Overrides = []string{"thresholds.cpu=70"}
	if got := Decode[Status](Encode(st)); !reflect.DeepEqual(got, st) {
		t.Errorf("got %+v\nwant %+v", got, st)
	}
}

// The tags are the one definition of the keys, so a record the codec
// cannot carry faithfully must fail at once, in the tests, not on the bus.
func TestAMalformedRecordIsRefusedByTheCodec(t *testing.T) {
	type embedded struct {
		A string `dbus:"a"`
	}
	tests := []struct {
		name string
		rec  any
		want string
	}{
		{"a field without a tag", struct {
			A string `dbus:"a"`
			B string
		}{}, "no dbus tag"},
		{"a duration whose key does not say _usec", struct {
			D time.Duration `dbus:"d"`
		}{}, "_usec"},
		{"a _usec key that is no duration", struct {
			D uint64 `dbus:"d_usec"`
		}{}, "_usec"},
		{"a type D-Bus records do not carry", struct {
			I int `dbus:"i"`
		}{}, "cannot carry"},
		{"an unknown tag option", struct {
			A string `dbus:"a,omitzero"`
		}{}, "unknown tag option"},
		{"the same key twice, through an embedded record", struct {
			embedded
			A string `dbus:"a"`
		}{}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Errorf("got panic %v; want one saying %q", r, tt.want)
				}
			}()
			Encode(tt.rec)
		})
	}
}

func TestRequestKeysAreTheirRecordsTags(t *testing.T) {
	want := map[string]string{"scope": "s", "effect": "s", "reason": "s", "until": "t", "for_usec": "t"}
	if !reflect.DeepEqual(SilenceKeys, want) {
		t.Errorf("SilenceKeys = %v; want %v", SilenceKeys, want)
	}
	want = map[string]string{"kind": "s", "subject": "s", "severity": "s", "value": "d", "threshold": "d", "message": "s"}
	if !reflect.DeepEqual(InjectionKeys, want) {
		t.Errorf("InjectionKeys = %v; want %v", InjectionKeys, want)
	}
}

// FuzzDecodeRecord: a record comes from whoever owns the daemon's name or
// sent a signal that passed the sender check, so decoding takes any a{sv}
// the bus can carry. Whatever it holds, every record type decodes without
// panicking, every string in the result is printable, and no time or
// duration wrapped negative.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(body(f, Encode(r)))
	}
	f.Add(body(f, map[string]dbus.Variant{"units": dbus.MakeVariant([]string{"\x1b[2J"}),
		"freed_by_mount": dbus.MakeVariant(map[string]uint64{"\u202e": 1}), "since": dbus.MakeVariant("x")}))
	f.Add(body(f, map[string]dbus.Variant{"issues": dbus.MakeVariant([]map[string]dbus.Variant{{"id": dbus.MakeVariant(int32(1))}})}))
	// Times and durations too large for Go's types, and the largest it holds.
	for _, u := range []uint64{math.MaxUint64, math.MaxUint64 / 2, math.MaxInt64 + 1, math.MaxInt64, math.MaxInt64/1000 + 1} {
		f.Add(body(f, map[string]dbus.Variant{"time": dbus.MakeVariant(u), "duration_usec": dbus.MakeVariant(u),
			"since": dbus.MakeVariant(u), "expires": dbus.MakeVariant(u), "interval_usec": dbus.MakeVariant(u),
			"predictions": dbus.MakeVariant([]map[string]dbus.Variant{{"time_to_threshold_usec": dbus.MakeVariant(u)}})}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := dbus.DecodeMessage(bytes.NewReader(b))
		if err != nil || len(msg.Body) != 1 {
			return
		}
		m, ok := msg.Body[0].(map[string]dbus.Variant)
		if !ok {
			return
		}
		for _, rec := range []any{Decode[Issue](m), Decode[HistoryEntry](m), Decode[Prediction](m),
			Decode[ActionResult](m), Decode[Failure](m), Decode[Silence](m), Decode[Status](m),
			Decode[Probe](m), Decode[ProbeResult](m)} {
			each(reflect.ValueOf(rec), func(v reflect.Value) {
				switch x := v.Interface().(type) {
				case string:
					if Printable(x) != x {
						t.Fatalf("%T holds %q, which is not printable", rec, x)
					}
				case time.Duration:
					if x < 0 {
						t.Fatalf("%T holds the duration %v, wrapped negative", rec, x)
					}
				case time.Time:
					if !x.IsZero() && x.Before(time.Unix(0, 0)) {
						t.Fatalf("%T holds the time %v, before the epoch", rec, x)
					}
				}
			})
		}
	})
}

// body is a signal carrying m, as bytes on the wire.
func body(f *testing.F, m map[string]dbus.Variant) []byte {
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath: dbus.MakeVariant(dbus.ObjectPath("/x")), dbus.FieldInterface: dbus.MakeVariant("a.b"),
		dbus.FieldMember: dbus.MakeVariant("C"), dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(m))},
		Body: []any{m}}
	var buf bytes.Buffer
	if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

func each(v reflect.Value, yield func(reflect.Value)) {
	yield(v)
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				each(v.Field(i), yield)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			each(v.Index(i), yield)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			each(it.Key(), yield)
		}
	}
}

// The properties are GetStatus's keys under the names contract.go gives
// them, with the same values.
func TestPropertiesAreTheSummarysTaggedKeys(t *testing.T) {
	sum := sampleStatus(Issue{}, Prediction{}).Summary
	sum.ActiveSilences = 2
	m := Encode(sum)
	props := Properties(m)
	want := map[string]string{PropVersion: "version", PropHealth: "health", PropDryRun: "dry_run",
		PropHealingEnabled: "healing_enabled", PropActiveIssues: "active_issues", PropLastCheck: "last_check",
		PropMonitoredUnits: "monitored_units", PropActiveSilences: "active_silences"}
	if len(props) != len(want) {
		t.Errorf("got %d properties %v; want %d", len(props), props, len(want))
	}
	for prop, key := range want {
		if got, ok := props[prop]; !ok || !reflect.DeepEqual(got, m[key]) {
			t.Errorf("property %s = %v; want GetStatus's %s, %v", prop, got, key, m[key])
		}
	}
}
