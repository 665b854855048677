// Package predict keeps a bounded history of every resource series, fits a
// trend to each, forecasts when it will cross its threshold, and scores
// every forecast against what then happened. Histories, pending forecasts
// and the score are persisted atomically in the state directory, so a
// restart — or a SIGKILL mid-write — keeps them.
//
// The model and how it was chosen are in docs/prediction.md. predict imports
// the shared leaf packages and detect's types; the engine drives it, and
// transports read its results through the engine.
package predict

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

// Forecast is a prediction that one series will cross its threshold.
type Forecast struct {
	Series          string        `json:"series"` // the series id, as detect.Reading.ID: "disk:/", "memory", …
	Kind            issue.Kind    `json:"kind"`
	Subject         string        `json:"subject"`
	Value           float64       `json:"value"`             // the latest sample
	Threshold       float64       `json:"threshold"`         // what it is predicted to cross
	TrendPerHour    float64       `json:"trend_per_hour"`    // the fitted rise, in the series' unit per hour
	TimeToThreshold time.Duration `json:"time_to_threshold"` // from At
	// Confidence is 1 − the half-width of the 90 % interval of
	// TimeToThreshold relative to it: 0.8 means the crossing is expected
	// within ±20 % of TimeToThreshold, nine times out of ten. Only
	// forecasts of at least MinReport are made.
	Confidence float64   `json:"confidence"`
	Samples    int       `json:"samples"` // points the fit used
	At         time.Time `json:"at"`      // the time of the latest sample
}

// ETA is when the series is predicted to cross its threshold.
func (f Forecast) ETA() time.Time { return f.At.Add(f.TimeToThreshold) }

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

// Settings configure a Predictor; they mirror [predictive] in the
// configuration.
type Settings struct {
	HistorySize int // points kept per series
	// Horizon bounds how long a forecast waits to be scored: one whose
	// crossing lies further out is scored on the trend it claimed when
	// the horizon has passed.
	Horizon time.Duration
	// MinConfidence is the confidence from which a forecast is recorded
	// and scored: the forecasts the daemon acts on.
	MinConfidence float64
}

// SettingsFrom derives Settings from the validated configuration.
func SettingsFrom(c config.Predictive) Settings {
	return Settings{HistorySize: c.HistorySize, Horizon: c.Horizon.D(), MinConfidence: c.MinConfidence}
}

func (s Settings) valid() error {
	if s.HistorySize < MinSamples || s.Horizon <= 0 || !(s.MinConfidence >= 0 && s.MinConfidence <= 1) {
		return fmt.Errorf("predict: bad settings %+v", s)
	}
	return nil
}

type series struct {
	kind    issue.Kind
	subject string
	points  []Point
	// since is when the series last broke: a cleanup freed space at that
	// time, so only later points describe the trend.
	since time.Time
}

// Predictor holds the series, their forecasts and the score. It is safe for
// concurrent use.
type Predictor struct {
	store  *state.Dir
	writer *state.Writer // nil: Save writes

	mu      sync.Mutex
	s       Settings
	series  map[string]*series
	fc      []Forecast
	pending map[string]pending // series id → the recorded forecast awaiting its score
	acc     Accuracy
	recent  []Score // newest first
	w       window
}

// Staleness is how long a series that is no longer sampled (an unwatched
// mount, pressure switched off by the kernel) is kept.
const Staleness = 24 * time.Hour

// New returns a Predictor, loading what store holds (nil: nothing is
// persisted). A file that cannot be used is reported beside a working,
// empty Predictor: a corrupt one is moved aside first (state.ErrCorrupt).
func New(s Settings, store *state.Dir) (*Predictor, error) {
	if err := s.valid(); err != nil {
		return nil, err
	}
	p := &Predictor{store: store, s: s, series: map[string]*series{}, pending: map[string]pending{}}
	if store == nil {
		return p, nil
	}
	var f file
	err := store.Load(fileName, &f)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return p, nil
	case err != nil:
		return p, fmt.Errorf("prediction history: %w", err)
	}
	if err := p.restore(&f); err != nil {
		return p, fmt.Errorf("prediction history %s: %w", store.Path()+"/"+fileName, err)
	}
	return p, nil
}

// SetSettings applies new settings; a smaller history is trimmed at the
// next sample.
func (p *Predictor) SetSettings(s Settings) error {
	if err := s.valid(); err != nil {
		return err
	}
	p.mu.Lock()
	p.s = s
	p.mu.Unlock()
	return nil
}

// Series returns a copy of one series' points, oldest first.
func (p *Predictor) Series(id string) []Point {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.series[id]
	if !ok {
		return nil
	}
	return slices.Clone(s.points)
}

// Observe appends a snapshot's readings to their series, scores the
// recorded forecasts they settle, and refreshes the forecasts. threshold
// gives each reading's threshold (0: none, the series is kept but not
// forecast). cpu is not forecast: busy time swings too fast to extrapolate.
func (p *Predictor) Observe(snap *detect.Snapshot, threshold func(detect.Reading) float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := snap.Time
	p.fc = p.fc[:0]
	for _, r := range snap.Readings {
		if r.Kind == issue.CPU || r.Kind == issue.Unit {
			continue
		}
		s, ok := p.series[r.ID]
		if !ok {
			s = &series{kind: r.Kind, subject: r.Subject}
			p.series[r.ID] = s
		}
		if n := len(s.points); n > 0 && !now.After(s.points[n-1].T) {
			if now.Equal(s.points[n-1].T) {
				continue // the same pass twice
			}
			// The clock went backwards: the old points no longer
			// line up with the new ones.
			s.points = s.points[:0]
			s.since = time.Time{}
			p.void(r.ID, now)
		}
		if len(s.points) >= p.s.HistorySize {
			drop := len(s.points) - p.s.HistorySize + 1
			s.points = append(s.points[:0], s.points[drop:]...)
		}
		s.points = append(s.points, Point{T: now, V: r.Value})
		p.settle(r.ID, now, r.Value)

		th := threshold(r)
		f, ok := p.forecast(r.ID, s, th)
		if !ok {
			continue
		}
		p.fc = append(p.fc, f)
		if _, waiting := p.pending[r.ID]; !waiting && f.Confidence >= p.s.MinConfidence {
			p.record(f)
		}
	}
	// Series no longer sampled: their forecasts can never be scored.
	for id, s := range p.series {
		if _, ok := snap.Get(id); ok {
			continue
		}
		if pd, ok := p.pending[id]; ok && now.After(pd.deadline()) {
			p.void(id, now)
		}
		if n := len(s.points); n == 0 || now.Sub(s.points[n-1].T) > Staleness {
			delete(p.series, id)
			p.void(id, now)
		}
	}
	slices.SortFunc(p.fc, func(a, b Forecast) int { return int(a.TimeToThreshold - b.TimeToThreshold) })
	p.changed()
}

// forecast fits one series' window.
func (p *Predictor) forecast(id string, s *series, threshold float64) (Forecast, bool) {
	pts := s.points
	if !s.since.IsZero() {
		i, _ := slices.BinarySearchFunc(pts, s.since, func(pt Point, t time.Time) int { return pt.T.Compare(t) })
		pts = pts[i:]
	}
	if len(pts) < MinSamples || threshold <= 0 {
		return Forecast{}, false
	}
	last := pts[len(pts)-1]
	p.w.load(pts)
	p.w.trim()
	t, hours, conf, why := estimate(p.w.x, p.w.y, last.V, threshold, ols)
	if why != Forecasted {
		return Forecast{}, false
	}
	return Forecast{
		Series: id, Kind: s.kind, Subject: s.subject,
		Value: last.V, Threshold: threshold, TrendPerHour: t.slope,
		TimeToThreshold: time.Duration(hours * float64(time.Hour)),
		Confidence:      conf, Samples: t.n, At: last.T,
	}, true
}

// Forecasts returns the current forecasts, soonest crossing first.
func (p *Predictor) Forecasts() []Forecast {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.fc)
}

// Intervened tells the predictor that an action changed the series of a
// kind at time at — a cleanup that freed space changes every disk series.
// Their trends restart from the next sample, and forecasts recorded before
// it are voided: what would have happened without the action is unknown.
func (p *Predictor) Intervened(kind issue.Kind, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, s := range p.series {
		if s.kind != kind {
			continue
		}
		s.since = at
		if pd, ok := p.pending[id]; ok && pd.Forecast.At.Before(at) {
			p.void(id, at)
		}
	}
	p.fc = slices.DeleteFunc(p.fc, func(f Forecast) bool { return f.Kind == kind })
	p.changed()
}

// SaveEvery is the least time between two writes of the prediction history
// through a Writer: every check adds a point, and a crash losing a minute
// of points costs a forecast little, while a write per check costs the
// disk a lot.
const SaveEvery = time.Minute

// Persist hands the history's writing to w: from then on every change
// marks it due, and w writes it at most every SaveEvery and at stop. It
// does nothing for a predictor without a store.
func (p *Predictor) Persist(w *state.Writer) {
	if p.store == nil || w == nil {
		return
	}
	w.Register(fileName, SaveEvery, func() any {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.snapshot()
	})
	p.mu.Lock()
	p.writer = w
	p.mu.Unlock()
}

// changed marks the history due on the writer; the caller holds p.mu.
func (p *Predictor) changed() {
	if p.writer != nil {
		p.writer.Changed(fileName)
	}
}

// Save persists the series, the recorded forecasts and the score now.
func (p *Predictor) Save() error {
	if p.store == nil {
		return nil
	}
	p.mu.Lock()
	f := p.snapshot()
	p.mu.Unlock()
	return p.store.Save(fileName, f)
}
