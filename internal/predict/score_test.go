package predict

import (
	"math"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// feeder drives one disk series through a Predictor a minute at a time.
type feeder struct {
	t    testing.TB
	p    *Predictor
	i    int
	th   float64
	snap detect.Snapshot
}

func newFeeder(t testing.TB, p *Predictor, threshold float64) *feeder {
	return &feeder{t: t, p: p, th: threshold,
		snap: detect.Snapshot{Readings: []detect.Reading{{ID: "disk:/", Kind: issue.Disk, Subject: "/"}}}}
}

func (f *feeder) now() time.Time { return t0.Add(time.Duration(f.i) * time.Minute) }

// feed samples v(minute) until n samples have been fed in all.
func (f *feeder) feed(n int, v func(minute int) float64) {
	for ; f.i < n; f.i++ {
		f.snap.Time = f.now()
		// A little deterministic jitter, so the fit has residuals.
		f.snap.Readings[0].Value = v(f.i) + 0.05*math.Sin(float64(f.i)*2.399963)
		f.p.Observe(&f.snap, func(detect.Reading) float64 { return f.th })
	}
}

func rising(rate float64) func(int) float64 {
	return func(m int) float64 { return 50 + rate*float64(m)/60 }
}

func newPredictor(t testing.TB) *Predictor {
	p, err := New(defaults, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lastScore(t *testing.T, p *Predictor) Score {
	t.Helper()
	for _, sc := range p.Scores() {
		if sc.Outcome != Pending {
			return sc
		}
	}
	t.Fatal("nothing scored")
	return Score{}
}

func TestScoring(t *testing.T) {
	// 12 points/h from 50 % to 90 %: 3 h 20 min.
	for _, tc := range []struct {
		name      string
		threshold float64
		after     func(int) float64 // the series once the forecast is recorded
		until     int               // minutes fed in all
		want      Outcome
	}{
		{"a crossing when predicted is correct", 90, rising(12), 240, Correct},
		{"a crossing much sooner than predicted is early", 90, func(m int) float64 {
			return rising(12)(m) + max(0, float64(m-20)) // a sudden extra point a minute
		}, 240, Early},
		{"no crossing by a quarter past the predicted time is missed", 90, func(m int) float64 {
			return rising(12)(min(m, 30)) // stops rising
		}, 400, Missed},
		{"a far crossing whose trend held over the horizon is correct", 200, rising(12), 400, Correct},
		{"a far crossing whose trend did not hold is off", 200, func(m int) float64 {
			return rising(12)(min(m, 60))
		}, 400, Off},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPredictor(t)
			f := newFeeder(t, p, tc.threshold)
			f.feed(MinSamples, rising(12))
			if a := p.Accuracy(); a.Pending != 1 {
				t.Fatalf("after %d clean samples %+v; want one forecast recorded", MinSamples, a)
			}
			f.feed(tc.until, tc.after)
			sc := lastScore(t, p)
			if sc.Outcome != tc.want {
				t.Errorf("scored %s (forecast %s at %s, settled %s at %.1f); want %s",
					sc.Outcome, sc.TimeToThreshold, sc.At.Format(time.Kitchen), sc.Settled.Format(time.Kitchen), sc.Observed, tc.want)
			}
			a := p.Accuracy()
			wantCorrect := 0
			if tc.want == Correct {
				wantCorrect = 1
			}
			if a.Scored < 1 || a.Correct < wantCorrect || (tc.want != Correct && a.Correct == a.Scored) {
				t.Errorf("accuracy %+v after a %s forecast", a, tc.want)
			}
		})
	}
}

func TestOneForecastIsRecordedPerSeriesAtATime(t *testing.T) {
	p := newPredictor(t)
	f := newFeeder(t, p, 90)
	f.feed(60, rising(12))
	if a := p.Accuracy(); a.Pending != 1 || a.Scored != 0 {
		t.Errorf("got %+v; want one pending, none scored", a)
	}
	f.feed(300, rising(12))
	a := p.Accuracy()
	if a.Scored != 1 || a.Correct != 1 {
		t.Errorf("got %+v; want one scored and correct", a)
	}
	if r, ok := a.Ratio(); !ok || r != 1 {
		t.Errorf("Ratio() = %v, %v; want 1, true", r, ok)
	}
}

func TestACleanupVoidsTheForecastAndRestartsTheTrend(t *testing.T) {
	p := newPredictor(t)
	f := newFeeder(t, p, 90)
	f.feed(30, rising(12))
	if len(p.Forecasts()) != 1 {
		t.Fatal("no forecast before the cleanup")
	}
	p.Intervened(issue.Disk, f.now().Add(-30*time.Second))
	if a := p.Accuracy(); a.Voided != 1 || a.Pending != 0 {
		t.Errorf("after the cleanup %+v; want the forecast voided", a)
	}
	if len(p.Forecasts()) != 0 {
		t.Error("the disk forecast outlived the cleanup")
	}
	// 20 points freed; the fill goes on at the same rate.
	f.feed(30+MinSamples-1, func(m int) float64 { return rising(12)(m) - 20 })
	if len(p.Forecasts()) != 0 {
		t.Errorf("forecast from %d samples after the cleanup; want none before %d", MinSamples-1, MinSamples)
	}
	f.feed(30+MinSamples, func(m int) float64 { return rising(12)(m) - 20 })
	fs := p.Forecasts()
	if len(fs) != 1 || math.Abs(fs[0].TrendPerHour-12) > 0.5 {
		t.Fatalf("forecasts %+v; want the 12/h trend again, from the samples after the cleanup only", fs)
	}
	if fs[0].Samples != MinSamples {
		t.Errorf("the fit used %d samples; want %d", fs[0].Samples, MinSamples)
	}
}

func TestAVanishedSeriesIsVoidedAndForgotten(t *testing.T) {
	p := newPredictor(t)
	f := newFeeder(t, p, 90)
	f.feed(20, rising(12))
	// The mount is no longer watched: only memory is sampled from now on.
	snap := detect.Snapshot{Readings: []detect.Reading{{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 40}}}
	for _, d := range []time.Duration{time.Hour, 5 * time.Hour, Staleness + time.Hour} {
		snap.Time = f.now().Add(d)
		p.Observe(&snap, func(detect.Reading) float64 { return 85 })
	}
	if a := p.Accuracy(); a.Voided != 1 || a.Pending != 0 {
		t.Errorf("got %+v; want the forecast voided", a)
	}
	if p.Series("disk:/") != nil {
		t.Error("a series unseen for more than a day is still kept")
	}
}

func TestTheClockGoingBackRestartsTheSeries(t *testing.T) {
	p := newPredictor(t)
	f := newFeeder(t, p, 90)
	f.feed(20, rising(12))
	f.snap.Time = t0.Add(-time.Hour)
	p.Observe(&f.snap, func(detect.Reading) float64 { return 90 })
	if pts := p.Series("disk:/"); len(pts) != 1 {
		t.Errorf("kept %d points; want only the new one", len(pts))
	}
}

func TestASmallerHistoryIsTrimmedAtTheNextSample(t *testing.T) {
	p := newPredictor(t)
	f := newFeeder(t, p, 90)
	f.feed(80, rising(12))
	if err := p.SetSettings(Settings{HistorySize: 20, Horizon: horizon, MinConfidence: minConf}); err != nil {
		t.Fatal(err)
	}
	f.feed(81, rising(12))
	if n := len(p.Series("disk:/")); n != 20 {
		t.Errorf("kept %d points; want 20", n)
	}
	if err := p.SetSettings(Settings{HistorySize: 3}); err == nil {
		t.Error("SetSettings accepted a history of 3 points and no horizon")
	}
}
