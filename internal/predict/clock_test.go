package predict

import (
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// The wall clock jumping an hour forward and back (NTP stepping it, an
// administrator's date -s) makes no false forecast, and none with a
// negative time. The samples' times are injected: the machine's clock is
// never set. The predictor works on the samples' wall times (what it
// persists); everything the daemon measures as a duration uses Go's
// monotonic clock, which a jump does not move.
func TestAClockJumpMakesNoFalseForecast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func(i int) float64
	}{
		{"a steady disk", func(int) float64 { return 50 }},
		{"a noisy steady disk", func(i int) float64 { return 50 + float64(i%3) - 1 }},
		// 1 point an hour: 40 hours from its threshold, far past the
		// horizon, and an hour's jump must not bring it in.
		{"a slowly filling disk", func(i int) float64 { return 50 + float64(i)/3600 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(defaults, nil)
			if err != nil {
				t.Fatal(err)
			}
			th := func(detect.Reading) float64 { return 90 }
			snap := detect.Snapshot{Readings: []detect.Reading{{ID: "disk:/", Kind: issue.Disk, Subject: "/"}}}
			wall := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
			jumps := map[int]time.Duration{60: time.Hour, 120: -time.Hour, 180: -time.Hour, 240: time.Hour}
			for i := range 300 {
				wall = wall.Add(time.Second + jumps[i])
				snap.Time = wall
				snap.Readings[0].Value = tc.value(i)
				p.Observe(&snap, th)
				for _, f := range p.Forecasts() {
					if f.TimeToThreshold < 0 {
						t.Fatalf("sample %d (%s): forecast with a negative time %s", i, wall.Format(time.TimeOnly), f.TimeToThreshold)
					}
					if f.Confidence >= defaults.MinConfidence && f.TimeToThreshold <= defaults.Horizon {
						t.Fatalf("sample %d (%s): false forecast %s", i, wall.Format(time.TimeOnly), f.Series+" in "+f.TimeToThreshold.String())
					}
				}
			}
			if a := p.Accuracy(); a.Scored != 0 && a.Correct > a.Scored {
				t.Errorf("accuracy %+v after the jumps; want nothing scored wrongly", a)
			}
		})
	}
}
