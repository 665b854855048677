// Package predict keeps a bounded history of every resource series, fits a
// trend to each and forecasts when it will cross its threshold. Histories
// are persisted atomically in the state directory so a restart keeps them.
//
// It imports the shared leaf packages and detect's types; the engine drives it.
package predict

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

// Forecast is a prediction for one series.
type Forecast struct {
	Series          string // the series id, as detect.Reading.ID
	Kind            issue.Kind
	Subject         string
	Value           float64       // the latest value
	Threshold       float64       // what it is predicted to cross
	TrendPerHour    float64       // points per hour
	TimeToThreshold time.Duration // from the latest sample
	Confidence      float64       // 0–1, from the fit's quality
	Samples         int
	At              time.Time // when the forecast was made
}

// ETA is when the series is predicted to cross its threshold.
func (f Forecast) ETA() time.Time { return f.At.Add(f.TimeToThreshold) }

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

type series struct {
	Kind    issue.Kind
	Subject string
	Points  []Point
}

// Predictor holds the series and their forecasts. It is safe for
// concurrent use.
type Predictor struct {
	size  int
	store *state.Dir

	mu     sync.Mutex
	series map[string]*series
	fc     []Forecast
}

const historyFile = "series.json"

// New returns a Predictor keeping size points per series, loading the
// series persisted in store (nil: nothing persisted). A corrupt file is
// moved aside and returned as an error beside a working Predictor.
func New(size int, store *state.Dir) (*Predictor, error) {
	p := &Predictor{size: size, store: store, series: map[string]*series{}}
	if store == nil {
		return p, nil
	}
	err := store.Load(historyFile, &p.series)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		p.series = map[string]*series{}
		return p, fmt.Errorf("series history: %w", err)
	}
	for _, s := range p.series {
		if len(s.Points) > size {
			s.Points = s.Points[len(s.Points)-size:]
		}
	}
	return p, nil
}

// Series returns a copy of one series' points, oldest first.
func (p *Predictor) Series(id string) []Point {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.series[id]
	if !ok {
		return nil
	}
	return slices.Clone(s.Points)
}

// Observe appends a snapshot's readings to their series and refreshes the
// forecasts; threshold returns each reading's threshold (0 = none).
func (p *Predictor) Observe(snap *detect.Snapshot, threshold func(detect.Reading) float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fc = p.fc[:0]
	for _, r := range snap.Readings {
		if r.Kind == issue.CPU {
			continue // too spiky to extrapolate
		}
		s, ok := p.series[r.ID]
		if !ok {
			s = &series{Kind: r.Kind, Subject: r.Subject}
			p.series[r.ID] = s
		}
		if len(s.Points) >= p.size {
			copy(s.Points, s.Points[1:])
			s.Points = s.Points[:p.size-1]
		}
		s.Points = append(s.Points, Point{T: snap.Time, V: r.Value})
		th := threshold(r)
		if th <= 0 {
			continue
		}
		if f, ok := fit(s.Points, th); ok {
			f.Series, f.Kind, f.Subject, f.At = r.ID, r.Kind, r.Subject, snap.Time
			p.fc = append(p.fc, f)
		}
	}
}

// Forecasts returns the current forecasts, soonest crossing first.
func (p *Predictor) Forecasts() []Forecast {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.fc)
	slices.SortFunc(out, func(a, b Forecast) int { return int(a.TimeToThreshold - b.TimeToThreshold) })
	return out
}

// Save persists the series.
func (p *Predictor) Save() error {
	if p.store == nil {
		return nil
	}
	p.mu.Lock()
	data := make(map[string]*series, len(p.series))
	for id, s := range p.series {
		data[id] = &series{Kind: s.Kind, Subject: s.Subject, Points: slices.Clone(s.Points)}
	}
	p.mu.Unlock()
	return p.store.Save(historyFile, data)
}

// minSamples is how many points a fit needs.
const minSamples = 10

// fit is ordinary least squares over time; confidence is R². It reports
// nothing for flat, falling or noisy series, or one already past threshold.
func fit(pts []Point, threshold float64) (Forecast, bool) {
	n := len(pts)
	if n < minSamples {
		return Forecast{}, false
	}
	t0 := pts[0].T
	var sx, sy, sxx, sxy float64
	for _, p := range pts {
		x := p.T.Sub(t0).Hours()
		sx += x
		sy += p.V
		sxx += x * x
		sxy += x * p.V
	}
	fn := float64(n)
	den := fn*sxx - sx*sx
	if den == 0 {
		return Forecast{}, false
	}
	slope := (fn*sxy - sx*sy) / den
	icept := (sy - slope*sx) / fn
	var ssr, sst float64
	mean := sy / fn
	for _, p := range pts {
		x := p.T.Sub(t0).Hours()
		e := p.V - (icept + slope*x)
		ssr += e * e
		d := p.V - mean
		sst += d * d
	}
	if sst == 0 || slope <= 1e-9 {
		return Forecast{}, false
	}
	r2 := 1 - ssr/sst
	if r2 < 0.5 {
		return Forecast{}, false
	}
	last := pts[n-1]
	now := icept + slope*last.T.Sub(t0).Hours()
	if now >= threshold || last.V >= threshold {
		return Forecast{}, false
	}
	hours := (threshold - now) / slope
	if math.IsInf(hours, 0) || math.IsNaN(hours) || hours > 24*365 {
		return Forecast{}, false
	}
	return Forecast{
		Value: last.V, Threshold: threshold, TrendPerHour: slope,
		TimeToThreshold: time.Duration(hours * float64(time.Hour)),
		Confidence:      r2, Samples: n,
	}, true
}
