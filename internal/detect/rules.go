package detect

import (
	"maps"
	"math"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// Settings are the detection rules the Evaluator applies.
type Settings struct {
	// Thresholds per kind: percent, except load. 0 or absent switches the
	// kind off, so pressure is off unless it is set.
	Thresholds map[issue.Kind]float64
	// For is how many consecutive samples a value must stay above its
	// threshold before the issue opens; below 1 means 1.
	For int
	// Margin is how far below the threshold a value must fall before the
	// issue clears: points for percentages, percent of the threshold for
	// load. Negative means 0.
	Margin float64
}

// Change is a series whose issue opened, cleared or changed severity.
type Change struct {
	Reading
	Threshold float64        // the threshold in force; 0 when the kind was switched off
	Severity  issue.Severity // the new severity; issue.OK means the issue cleared
	Was       issue.Severity // the previous one; issue.OK means the issue just opened
}

// Evaluator applies the hysteresis rules of docs/detection.md to a stream
// of snapshots, keeping one small state per series. It is not safe for
// concurrent use.
type Evaluator struct {
	settings Settings
	series   map[string]*seriesState
}

type seriesState struct {
	above int            // consecutive samples above the threshold while closed
	sev   issue.Severity // issue.OK while closed
}

// NewEvaluator returns an Evaluator with no series seen yet.
func NewEvaluator(s Settings) *Evaluator {
	e := &Evaluator{series: make(map[string]*seriesState)}
	e.SetSettings(s)
	return e
}

// SetSettings replaces the rules, from the next Evaluate on. Series keep
// their state: an open issue stays open and is judged against the new
// threshold, so it clears, or moves severity, with a Change like any other.
// An open issue whose kind is switched off clears with Threshold 0.
func (e *Evaluator) SetSettings(s Settings) {
	s.Thresholds = maps.Clone(s.Thresholds)
	s.For = max(s.For, 1)
	if !(s.Margin > 0) { // also catches NaN
		s.Margin = 0
	}
	e.settings = s
}

// Forget drops a series' state, e.g. when its mount is no longer watched.
// An open issue of that series is left for the caller to resolve.
func (e *Evaluator) Forget(id string) { delete(e.series, id) }

// Evaluate runs the rules over snap, appends a Change for every series
// whose severity moved and returns out. A series missing from snap (the
// first cpu pass, a mount that failed) keeps its state.
func (e *Evaluator) Evaluate(snap *Snapshot, out []Change) []Change {
	for _, r := range snap.Readings {
		if math.IsNaN(r.Value) {
			continue
		}
		t := e.settings.Thresholds[r.Kind]
		st := e.series[r.ID]
		if !(t > 0) {
			if st != nil && st.sev != issue.OK {
				out = append(out, Change{Reading: r, Severity: issue.OK, Was: st.sev})
			}
			if st != nil {
				*st = seriesState{}
			}
			continue
		}
		if st == nil {
			st = &seriesState{}
			e.series[r.ID] = st
		}
		was := st.sev
		if was == issue.OK {
			if r.Value > t {
				st.above++
			} else {
				st.above = 0
			}
			if st.above < e.settings.For {
				continue
			}
			st.above = 0
			st.sev = SeverityOf(r.Kind, r.Value, t)
		} else {
			st.sev = openSeverity(r.Kind, r.Value, t, e.settings.Margin, was)
		}
		if st.sev != was {
			out = append(out, Change{Reading: r, Threshold: t, Severity: st.sev, Was: was})
		}
	}
	return out
}

// SeverityOf grades a value against its threshold alone, without
// hysteresis: warning above the threshold, critical above the critical
// level (see criticalLevel). A threshold of 0 or less is off.
func SeverityOf(kind issue.Kind, value, threshold float64) issue.Severity {
	switch {
	case !(threshold > 0) || !(value > threshold):
		return issue.OK
	case value > criticalLevel(kind, threshold):
		return issue.Critical
	}
	return issue.Warning
}

// openSeverity grades a value for an issue that is open at severity was.
// It clears only below the threshold less the margin, stays warning
// between that and the critical level, and drops from critical to warning
// only below the critical level less the same margin, so a value wavering
// around either line does not flap.
func openSeverity(kind issue.Kind, value, t, margin float64, was issue.Severity) issue.Severity {
	crit := criticalLevel(kind, t)
	m := marginPoints(kind, t, margin)
	switch {
	case value < t-m:
		return issue.OK
	case value > crit:
		return issue.Critical
	case was == issue.Critical && value >= max(crit-m, t):
		return issue.Critical
	}
	return issue.Warning
}

// criticalLevel is halfway from the threshold to 100 % for percentages.
// The load average has no ceiling, so for load it is twice the threshold.
func criticalLevel(kind issue.Kind, t float64) float64 {
	if kind == issue.Load {
		return 2 * t
	}
	return t + (100-t)/2
}

// marginPoints is the margin in the value's own unit. For load the margin
// is a percentage of the threshold. For percentages it is points, but never
// more than half the threshold: a pressure threshold of 4 with the default
// margin of 5 would otherwise never clear.
func marginPoints(kind issue.Kind, t, margin float64) float64 {
	if kind == issue.Load {
		return t * margin / 100
	}
	return min(margin, t/2)
}
