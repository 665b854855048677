package predict

import (
	"math"
	"slices"
	"time"
)

// Scoring (docs/prediction.md). A forecast with at least the configured
// confidence is recorded — one per series at a time; the series' later
// forecasts refine it and are not scored on their own — and scored by what
// the series then does:
//
//   - it reaches the threshold: right if that happened no earlier than
//     Tolerance before the predicted time (it cannot be later than
//     Tolerance after it: by then it was scored);
//   - Tolerance past the predicted time, still below: wrong;
//   - for a crossing predicted beyond the horizon, the horizon passes
//     first: right if the value has risen as predicted, within Tolerance
//     of the predicted rise;
//   - an action changed the series (a cleanup freed space), or the series
//     stopped being sampled, before any of that: void, not scored.

// Tolerance is how far from the predicted time a crossing, or from the
// predicted rise a value, may be for the forecast to count as right.
const Tolerance = 0.25

// keepScores is how many scored forecasts Scores returns.
const keepScores = 50

// Accuracy is the running score of the recorded forecasts.
type Accuracy struct {
	Scored  int `json:"scored"`  // recorded forecasts whose outcome is known
	Correct int `json:"correct"` // of those, the ones that came true
	Voided  int `json:"voided"`  // recorded forecasts made moot by an action before they were due
	Pending int `json:"pending"` // recorded forecasts not yet due
}

// Ratio is Correct/Scored; ok is false before anything has been scored.
func (a Accuracy) Ratio() (ratio float64, ok bool) {
	if a.Scored == 0 {
		return 0, false
	}
	return float64(a.Correct) / float64(a.Scored), true
}

// Outcome is how a recorded forecast was scored.
type Outcome string

const (
	Correct Outcome = "correct"
	Early   Outcome = "early"   // the threshold was reached sooner than predicted
	Missed  Outcome = "missed"  // the predicted crossing did not come
	Off     Outcome = "off"     // beyond the horizon: the rise was not as predicted
	Voided  Outcome = "voided"  // an action or the series' end made it moot
	Pending Outcome = "pending" // not yet due
)

// Score is one recorded forecast and its outcome.
type Score struct {
	Forecast
	Outcome Outcome `json:"outcome"`
	// Settled is when the outcome was known (zero while pending).
	Settled time.Time `json:"settled"`
	// Observed is the sample that settled it.
	Observed float64 `json:"observed"`
}

// pending is a recorded forecast with the fitted level it started from and
// the horizon in force when it was made.
type pending struct {
	Forecast
	Level   float64       `json:"level"`
	Horizon time.Duration `json:"horizon"`
}

// deadline is when the forecast is scored if the threshold is not reached
// first: Tolerance past its predicted time, or its horizon.
func (pd pending) deadline() time.Time {
	return pd.At.Add(min(pd.late(), pd.Horizon))
}

// late is how long after the forecast a crossing still counts as on time.
func (pd pending) late() time.Duration {
	return time.Duration(float64(pd.TimeToThreshold) * (1 + Tolerance))
}

// record starts tracking f; the caller holds p.mu.
func (p *Predictor) record(f Forecast) {
	hours := f.TimeToThreshold.Hours()
	level := f.Threshold - f.TrendPerHour*hours
	p.pending[f.Series] = pending{Forecast: f, Level: level, Horizon: p.s.Horizon}
	p.acc.Pending = len(p.pending)
}

// settle scores the forecast recorded for series id against the sample
// (t, v), if that sample decides it; the caller holds p.mu.
func (p *Predictor) settle(id string, t time.Time, v float64) {
	pd, ok := p.pending[id]
	if !ok || !t.After(pd.At) {
		return
	}
	sc := Score{Forecast: pd.Forecast, Settled: t, Observed: v}
	switch {
	case v >= pd.Threshold:
		sc.Outcome = Correct
		if t.Before(pd.At.Add(time.Duration(float64(pd.TimeToThreshold) * (1 - Tolerance)))) {
			sc.Outcome = Early
		}
	case t.Before(pd.deadline()):
		return
	case pd.late() <= pd.Horizon:
		sc.Outcome = Missed
	default:
		want := pd.Level + pd.TrendPerHour*t.Sub(pd.At).Hours()
		sc.Outcome = Correct
		if math.Abs(v-want) > Tolerance*(want-pd.Level) {
			sc.Outcome = Off
		}
	}
	p.acc.Scored++
	if sc.Outcome == Correct {
		p.acc.Correct++
	}
	p.keep(sc)
	delete(p.pending, id)
	p.acc.Pending = len(p.pending)
}

// void drops the forecast recorded for series id unscored; the caller
// holds p.mu.
func (p *Predictor) void(id string, at time.Time) {
	pd, ok := p.pending[id]
	if !ok {
		return
	}
	p.acc.Voided++
	p.keep(Score{Forecast: pd.Forecast, Outcome: Voided, Settled: at})
	delete(p.pending, id)
	p.acc.Pending = len(p.pending)
}

func (p *Predictor) keep(sc Score) {
	p.recent = slices.Insert(p.recent, 0, sc)
	if len(p.recent) > keepScores {
		p.recent = p.recent[:keepScores]
	}
}

// Accuracy returns the running score.
func (p *Predictor) Accuracy() Accuracy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acc
}

// Scores returns the recorded forecasts: those still pending, then the
// latest scored or voided ones, newest first.
func (p *Predictor) Scores() []Score {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Score, 0, len(p.pending)+len(p.recent))
	for _, pd := range p.pending {
		out = append(out, Score{Forecast: pd.Forecast, Outcome: Pending})
	}
	slices.SortFunc(out, func(a, b Score) int { return b.At.Compare(a.At) })
	return append(out, p.recent...)
}
