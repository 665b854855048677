package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// A small file system filled at a steady, known rate: the daemon predicts
// when it will reach its threshold within 25 % of the truth once a few dozen
// samples exist, and its preventive cleanup empties it before it does.
func TestAFillingDiskIsPredictedAndCleanedBeforeItCrosses(t *testing.T) {
	const (
		mount     = "/srv/lhfill"
		fsBytes   = 64 << 20
		chunk     = 256 << 10
		every     = 500 * time.Millisecond
		threshold = 90.0
	)
	// 512 KiB/s into 64 MiB: 0.78 points a second, 0 → 90 % in 115 s. The
	// horizon of a minute makes the daemon act at about 45 %, after some
	// 55 one-second samples.
	rate := float64(chunk) / every.Seconds() / fsBytes * 100 // points per second
	fill := fmt.Sprintf(`#!/bin/bash
# Appends %d bytes to %s/junk/fill every %d ns, on a fixed schedule.
set -eu
mkdir -p %s/junk
start=$(date +%%s%%N); k=0
while :; do
	head -c %d /dev/zero >> %s/junk/fill
	k=$((k+1)); d=$((start + k*%d - $(date +%%s%%N)))
	if [ $d -gt 0 ]; then sleep "$((d/1000000000)).$(printf %%09d $((d%%1000000000)))"; fi
done
`, chunk, mount, every.Nanoseconds(), mount, chunk, mount, every.Nanoseconds())

	m := bootInstalled(t, boot{
		config: `
[thresholds]
disk = 90.0
[monitoring]
interval = "1s"
mounts = ["` + mount + `"]
[healing]
cleanup_units = ["lh-empty.service"]
[predictive]
enabled = true
history_size = 100
horizon = "1m"
min_confidence = 0.8
`,
		units: map[string]testbed.File{
			"srv-lhfill.mount": {Data: []byte(fmt.Sprintf("[Mount]\nWhat=tmpfs\nWhere=%s\nType=tmpfs\nOptions=size=%d,mode=0755\n", mount, fsBytes)), Mode: 0o644},
			"lh-fill.service":  unitFile("/usr/local/bin/lh-fill"),
			"lh-empty.service": {Data: []byte("[Unit]\nDescription=empty the test file system\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'rm -f " + mount + "/junk/*'\n"), Mode: 0o644},
		},
		files: map[string]testbed.File{
			"/usr/local/bin/lh-fill": {Data: []byte(fill), Mode: 0o755},
		},
		start:         []string{"srv-lhfill.mount"},
		noStartDaemon: true,
	})
	t0 := time.Now()
	// The fill runs before the daemon starts, so every sample it takes
	// is on the ramp.
	m.MustRun(t, "systemctl", "start", "lh-fill.service")
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")

	var alert, cleaned []testbed.JournalEntry
	m.waitFor(3*time.Minute, "a prediction alert and a cleanup that succeeded", func() bool {
		alert = m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.PredictionAlert]))
		cleaned = m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionSucceeded] && e.Field("HEALING_ACTION") == "cleanup"
		})
		return len(alert) > 0 && len(cleaned) > 0
	})
	m.MustRun(t, "systemctl", "stop", "lh-fill.service")

	// "disk:/srv/lhfill predicted to reach 90% in 58s: 44.8% now, rising
	// 2.81e+03%/h, confidence 97%, from 57 samples"
	msg := alert[0].Field("MESSAGE")
	parts := regexp.MustCompile(`in (\S+): ([0-9.]+)% now, .* from ([0-9]+) samples`).FindStringSubmatch(msg)
	if parts == nil {
		t.Fatalf("alert %q does not give the time, value and samples", msg)
	}
	ttt, err := time.ParseDuration(parts[1])
	if err != nil {
		t.Fatalf("alert %q: %v", msg, err)
	}
	value, _ := strconv.ParseFloat(parts[2], 64)
	samples, _ := strconv.Atoi(parts[3])
	truth := time.Duration((threshold - value) / rate * float64(time.Second))
	relErr := (ttt - truth).Seconds() / truth.Seconds()
	if samples < 24 {
		t.Errorf("alert from %d samples; the test meant to judge a forecast from a few dozen", samples)
	}
	if relErr < -0.25 || relErr > 0.25 {
		t.Errorf("predicted %s to %g %% at %.1f %%; the fill of %.3f points/s gets there in %s: off by %.0f %%; want within 25 %%",
			ttt, threshold, value, rate, truth.Round(time.Second), 100*relErr)
	}
	if !at(alert[0]).Before(at(cleaned[0])) {
		t.Errorf("cleanup at %s, alert at %s; want the alert first", at(cleaned[0]), at(alert[0]))
	}
	if freed, _ := strconv.ParseUint(cleaned[0].Field("HEALING_FREED_BYTES"), 10, 64); freed < fsBytes/4 {
		t.Errorf("cleanup freed %d bytes; want the file system emptied", freed)
	}
	if opened := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.IssueDetected] && e.Field("HEALING_ISSUE") == "disk:"+mount
	}); len(opened) > 0 {
		t.Errorf("the disk issue opened (%s); want the disk cleaned before it crossed", opened[0].Field("MESSAGE"))
	}

	// The daemon's own history of the series, as persisted: it never
	// reached the threshold, and the forecast recorded before the cleanup
	// was voided, not scored.
	// It is written at most once a minute and at stop: stop the daemon
	// to read all of it, after a pass or two past the cleanup.
	time.Sleep(2 * time.Second)
	m.MustRun(t, "systemctl", "stop", "luminous-healing.service")
	data, err := m.ReadFile("/var/lib/luminous-healing/prediction.json")
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Series map[string]struct {
			V []float64 `json:"v"`
		} `json:"series"`
		Accuracy struct{ Scored, Voided int } `json:"accuracy"`
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatalf("prediction.json: %v", err)
	}
	vs := saved.Series["disk:"+mount].V
	if len(vs) == 0 {
		t.Fatalf("prediction.json holds no disk:%s series", mount)
	}
	if hi := slices.Max(vs); hi >= threshold {
		t.Errorf("the series reached %.1f %%; want it below %g %%", hi, threshold)
	}
	if last := vs[len(vs)-1]; last > 20 {
		t.Errorf("%.1f %% used after the cleanup; want the file system emptied", last)
	}
	if saved.Accuracy.Voided < 1 {
		t.Errorf("accuracy %+v; want the forecast recorded before the cleanup voided", saved.Accuracy)
	}
	report(t, "time to threshold %s at %.1f %% from %d samples, truth %s (%+.0f %%); cleanup %s after the alert, peak %.1f %%",
		ttt, value, samples, truth.Round(time.Second), 100*relErr, at(cleaned[0]).Sub(at(alert[0])).Round(time.Millisecond), slices.Max(vs))
}
