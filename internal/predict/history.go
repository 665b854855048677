package predict

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

// The state file, prediction.json in the state directory, written
// atomically by state.Dir after every pass:
//
//	{"version": 1,
//	 "series": {"disk:/": {"kind": "disk", "subject": "/", "since": 0,
//	                       "t": [unix ms, …], "v": [percent, …]}, …},
//	 "pending": [{forecast…, "level": …, "horizon": ns}, …],
//	 "accuracy": {"scored": …, "correct": …, "voided": …},
//	 "recent": [{forecast…, "outcome": "correct", …}, …]}
//
// Times are Unix milliseconds in the series (a hundred points per series
// are written every pass), RFC 3339 elsewhere.

const (
	fileName    = "prediction.json"
	fileVersion = 1
)

type file struct {
	Version  int                   `json:"version"`
	Series   map[string]seriesFile `json:"series"`
	Pending  []pending             `json:"pending,omitempty"`
	Accuracy Accuracy              `json:"accuracy"`
	Recent   []Score               `json:"recent,omitempty"`
}

type seriesFile struct {
	Kind    issue.Kind `json:"kind"`
	Subject string     `json:"subject"`
	Since   int64      `json:"since,omitempty"`
	T       []int64    `json:"t"`
	V       []float64  `json:"v"`
}

// snapshot encodes the predictor's state; the caller holds p.mu.
func (p *Predictor) snapshot() *file {
	f := &file{Version: fileVersion, Series: make(map[string]seriesFile, len(p.series)), Accuracy: p.acc, Recent: p.recent}
	for id, s := range p.series {
		sf := seriesFile{Kind: s.kind, Subject: s.subject, T: make([]int64, len(s.points)), V: make([]float64, len(s.points))}
		if !s.since.IsZero() {
			sf.Since = s.since.UnixMilli()
		}
		for i, pt := range s.points {
			sf.T[i], sf.V[i] = pt.T.UnixMilli(), pt.V
		}
		f.Series[id] = sf
	}
	for _, pd := range p.pending {
		f.Pending = append(f.Pending, pd)
	}
	slices.SortFunc(f.Pending, func(a, b pending) int { return a.At.Compare(b.At) })
	f.Recent = slices.Clone(p.recent)
	return f
}

// restore loads a decoded file into an empty predictor, dropping what does
// not make sense; the errors say what was dropped and wrap state.ErrCorrupt.
func (p *Predictor) restore(f *file) error {
	if f.Version != fileVersion {
		return fmt.Errorf("%w: format version %d, want %d; starting fresh", state.ErrCorrupt, f.Version, fileVersion)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{state.ErrCorrupt}, args...)...))
	}
	for id, sf := range f.Series {
		if why := checkSeries(sf); why != "" {
			bad("series %q %s; dropped", id, why)
			continue
		}
		s := &series{kind: sf.Kind, subject: sf.Subject, points: make([]Point, len(sf.T))}
		if sf.Since != 0 {
			s.since = time.UnixMilli(sf.Since)
		}
		for i := range sf.T {
			s.points[i] = Point{T: time.UnixMilli(sf.T[i]), V: sf.V[i]}
		}
		if n := len(s.points) - p.s.HistorySize; n > 0 {
			s.points = s.points[n:]
		}
		p.series[id] = s
	}
	for _, pd := range f.Pending {
		if !(pd.Threshold > 0 && pd.TimeToThreshold > 0 && pd.Horizon > 0 && pd.Confidence >= 0 && pd.Confidence <= 1 && !pd.At.IsZero()) {
			bad("recorded forecast for %q is malformed; dropped", pd.Series)
			continue
		}
		if _, dup := p.pending[pd.Series]; dup {
			bad("two recorded forecasts for %q; the later dropped", pd.Series)
			continue
		}
		p.pending[pd.Series] = pd
	}
	a := f.Accuracy
	if a.Scored < 0 || a.Correct < 0 || a.Voided < 0 || a.Correct > a.Scored {
		bad("accuracy %+v is impossible; reset", a)
		a = Accuracy{}
	}
	p.acc = a
	p.acc.Pending = len(p.pending)
	if len(f.Recent) > keepScores {
		f.Recent = f.Recent[:keepScores]
	}
	p.recent = f.Recent
	return errors.Join(errs...)
}

func checkSeries(sf seriesFile) string {
	k, err := issue.ParseKind(string(sf.Kind))
	switch {
	case err != nil || k == issue.CPU || k == issue.Unit:
		return fmt.Sprintf("has kind %q", sf.Kind)
	case len(sf.T) != len(sf.V):
		return fmt.Sprintf("has %d times for %d values", len(sf.T), len(sf.V))
	}
	for i := range sf.T {
		if i > 0 && sf.T[i] <= sf.T[i-1] {
			return "has times out of order"
		}
		if math.IsNaN(sf.V[i]) || math.IsInf(sf.V[i], 0) {
			return "has a value that is not a number"
		}
	}
	return ""
}
