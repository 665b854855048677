package client

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

var update = flag.Bool("update", false, "rewrite testdata/records.golden from the encoder")

// formatRecords are the records whose wire form is locked: one of
// everything, each type's zero value (absent lists and maps, zero
// times), and the values the encoder clamps (negative durations, times
// before the epoch).
func formatRecords() []record {
	recs := sampleRecords()
	status := sampleStatus(recs[0].(Issue), recs[1].(Prediction))
	status.Silences = []Silence{{ID: "window-0", Scope: "all", Effect: "pause", Author: "configuration",
		AuthorUID: -1, Starts: someTime, Expires: someTime.Add(time.Hour), Window: "Sun 02:00..04:00", Active: true}}
	status.Overrides = []string{"healing.dry_run=true"}
	recs = append(recs, status, status.Silences[0],
		SilenceRequest{Scope: "unit:a.service", Effect: "notify-only", Reason: "r", Until: someTime, For: time.Hour},
		Injection{Kind: "disk", Subject: "/", Severity: "critical", Value: 97, Threshold: 90, Message: "m"})
	for _, r := range slices.Clone(recs) {
		recs = append(recs, reflect.Zero(reflect.TypeOf(r)).Interface().(record))
	}
	before := time.UnixMicro(-5)
	return append(recs,
		ActionResult{Duration: -time.Second, Units: []string{}, Applied: map[string]uint64{}, FreedByMount: map[string]uint64{}},
		HistoryEntry{Time: before, Duration: -1},
		Summary{LastCheck: before, Interval: -time.Minute, MonitoredUnits: []string{}, Overrides: []string{}},
		Probe{Timeout: -1, LastAt: before},
	)
}

// wireText is a record's a{sv} as text: one line per key, sorted, with
// its D-Bus signature and value.
func wireText(m map[string]dbus.Variant) string {
	var b strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  %s %s %s\n", k, m[k].Signature(), m[k])
	}
	return b.String()
}

// The wire format is a contract with every client: this locks the a{sv}
// of every record, as encoded before the encoders were driven by the
// struct tags, byte for byte in testdata/records.golden.
func TestRecordsKeepTheirWireFormat(t *testing.T) {
	var b strings.Builder
	for i, r := range formatRecords() {
		fmt.Fprintf(&b, "%d %s\n%s", i, reflect.TypeOf(r).Name(), wireText(Encode(r)))
	}
	golden := filepath.Join("testdata", "records.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("wire format changed at line %d of %s:\ngot  %s\nwant %s", i+1, golden, gl[i], wl[i])
			}
		}
		t.Fatalf("wire format changed: got %d lines; want %d (go test -update rewrites %s)", len(gl), len(wl), golden)
	}
}
