package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// The HTTP form of a record differs from the D-Bus one only where
// docs/http.md says: times, null thresholds, the unit.
func TestTheHTTPFormOfTheRecords(t *testing.T) {
	at := time.Date(2026, 11, 22, 1, 2, 3, 456_000_000, time.UTC)
	cases := []struct {
		name string
		rec  any
		want string
	}{
		{"a zero time is null, a set one RFC 3339, a list never null",
			client.Throttle{Unit: "a.service", Since: at, CPUWeight: 20},
			`{"cpu_weight":20,"issues":[],"memory_high":0,"since":"2026-11-22T01:02:03.456Z","unit":"a.service"}`},
		{"a time is in UTC, whatever the daemon's zone",
			client.Breaker{Issue: "cpu", NextAttempt: at.In(time.FixedZone("CET", 3600))},
			`{"failures":0,"given_up":false,"issue":"cpu","next_attempt":"2026-11-22T01:02:03.456Z"}`},
		{"a breaker that may try now has no next attempt",
			client.Breaker{Issue: "cpu", Failures: 2},
			`{"failures":2,"given_up":false,"issue":"cpu","next_attempt":null}`},
		{"a duration is µs",
			client.Prediction{Series: "disk:/", TimeToThreshold: 90 * time.Second, ETA: at},
			`{"confidence":0,"eta":"2026-11-22T01:02:03.456Z","kind":"","samples":0,"series":"disk:/","subject":"","threshold":0,"time_to_threshold_usec":90000000,"trend_per_hour":0,"value":0}`},
		{"a resource without a threshold says null, and its unit",
			resourceOf(client.Resource{ID: "load", Kind: "load", Subject: "load", Value: 0.5}),
			`{"id":"load","kind":"load","severity":"","subject":"load","threshold":null,"unit":"","value":0.5}`},
		{"a resource with one keeps it, in percent",
			resourceOf(client.Resource{ID: "cpu", Kind: "cpu", Subject: "cpu", Value: 12, Threshold: 80, Severity: "ok"}),
			`{"id":"cpu","kind":"cpu","severity":"ok","subject":"cpu","threshold":80,"unit":"%","value":12}`},
		{"a history record without per-mount bytes says null for them",
			client.HistoryEntry{Time: at, Event: "action-succeeded", CallerUID: -1, Duration: 1500 * time.Microsecond},
			`{"action":"","caller":"","caller_uid":-1,"dry_run":false,"duration_usec":1500,"event":"action-succeeded","freed_by_mount":null,"freed_bytes":0,"issue":"","message":"","outcome":"","target":"","time":"2026-11-22T01:02:03.456Z"}`},
		{"per-mount bytes are an object",
			client.HistoryEntry{FreedBytes: 9, FreedByMount: map[string]uint64{"/": 5, "/boot": 4}},
			`{"action":"","caller":"","caller_uid":0,"dry_run":false,"duration_usec":0,"event":"","freed_by_mount":{"/":5,"/boot":4},"freed_bytes":9,"issue":"","message":"","outcome":"","target":"","time":null}`},
		{"an embedded record's keys are the record's own",
			client.Failure{ActionResult: client.ActionResult{Action: "restart", Units: []string{"a.service"}}, State: "failed", Attempts: 2},
			`{"action":"restart","applied":null,"attempts":2,"cause":"","dry_run":false,"duration_usec":0,"escalated":false,"freed_by_mount":null,"freed_bytes":0,"issue":"","message":"","outcome":"","severity":"","state":"failed","target":"","units":["a.service"]}`},
		{"a status without lists has every list, empty",
			client.Status{Summary: client.Summary{Version: "1", Interval: time.Minute}},
			`{"active_issues":0,"active_silences":0,"breakers":[],"config_path":"","dry_run":false,"healing_enabled":false,"health":"","hostname":"","interval_usec":60000000,"issues":[],"last_check":null,"mode":"","monitored_units":[],"overrides":[],"predictions":[],"probes":[],"resources":[],"sample_error":"","silences":[],"started":null,"systemd":false,"throttles":[],"units":[],"version":"1"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.rec
			if _, ok := v.(map[string]any); !ok {
				v = client.JSON(v)
			}
			got, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
