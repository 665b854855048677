package detect

import (
	"fmt"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

const (
	ok   = issue.OK
	warn = issue.Warning
	crit = issue.Critical
)

// step is one Evaluate on a one-reading snapshot and the severity the
// series should have after it; set, when not nil, replaces the settings
// before the step.
type step struct {
	value float64
	want  issue.Severity
	set   *Settings
}

func defaults() Settings {
	return Settings{
		Thresholds: map[issue.Kind]float64{issue.CPU: 80, issue.Memory: 85, issue.Disk: 90, issue.Load: 3},
		For:        2,
		Margin:     5,
	}
}

func with(f func(*Settings)) *Settings {
	s := defaults()
	f(&s)
	return &s
}

func TestHysteresis(t *testing.T) {
	tests := []struct {
		name  string
		kind  issue.Kind
		steps []step
	}{
		{"an issue opens only after For samples above the threshold", issue.CPU, []step{
			{81, ok, nil}, {81, warn, nil}, {81, warn, nil},
		}},
		{"a dip to the threshold restarts the count", issue.CPU, []step{
			{81, ok, nil}, {80, ok, nil}, {81, ok, nil}, {81, warn, nil},
		}},
		{"For of 1 opens on the first sample", issue.CPU, []step{
			{81, warn, with(func(s *Settings) { s.For = 1 })},
		}},
		{"no flapping around the threshold: it clears only below threshold − margin", issue.CPU, []step{
			{81, ok, nil}, {81, warn, nil}, {79, warn, nil}, {81, warn, nil}, {75, warn, nil}, {80.5, warn, nil}, {74.9, ok, nil},
		}},
		{"after clearing it needs For samples again", issue.CPU, []step{
			{81, ok, nil}, {81, warn, nil}, {70, ok, nil}, {81, ok, nil}, {81, warn, nil},
		}},
		{"it opens critical above threshold + (100 − threshold)/2", issue.CPU, []step{
			{95, ok, nil}, {90.1, crit, nil},
		}},
		{"exactly at the critical level is still warning", issue.CPU, []step{
			{90, ok, nil}, {90, warn, nil},
		}},
		{"severity escalates at once and de-escalates only below critical − margin", issue.Memory, []step{
			// threshold 85: critical above 92.5, back to warning below 87.5
			{86, ok, nil}, {86, warn, nil}, {93, crit, nil}, {92, crit, nil}, {88, crit, nil}, {87.4, warn, nil}, {93, crit, nil}, {70, ok, nil},
		}},
		{"de-escalation never goes below the threshold itself", issue.Disk, []step{
			// threshold 98: critical above 99; the margin would put the
			// way back to warning at 94, below the threshold
			{99.5, crit, with(func(s *Settings) { s.Thresholds[issue.Disk] = 98; s.For = 1 })}, {98, crit, nil}, {97.9, warn, nil},
		}},
		{"the worked example in docs/detection.md holds", issue.CPU, []step{
			{81, ok, nil}, {81, warn, nil}, {79, warn, nil}, {95, crit, nil}, {88, crit, nil}, {84, warn, nil}, {76, warn, nil}, {74, ok, nil},
		}},
		{"load is critical from twice the threshold", issue.Load, []step{
			{6.1, ok, nil}, {6.1, crit, nil}, {6, crit, nil}, {5.8, warn, nil}, {6.01, crit, nil},
		}},
		{"load clears below threshold·(1 − margin/100)", issue.Load, []step{
			// threshold 3, margin 5 %: clears below 2.85
			{3.5, ok, nil}, {3.5, warn, nil}, {2.9, warn, nil}, {2.85, warn, nil}, {2.84, ok, nil},
		}},
		{"load above 100 is fine: it has no percent ceiling", issue.Load, []step{
			{150, crit, with(func(s *Settings) { s.Thresholds[issue.Load] = 64; s.For = 1 })}, {100, warn, nil},
		}},
		{"pressure is off by default", issue.Pressure, []step{
			{99, ok, nil}, {99, ok, nil}, {99, ok, nil},
		}},
		{"pressure works once its threshold is set", issue.Pressure, []step{
			{25, ok, with(func(s *Settings) { s.Thresholds[issue.Pressure] = 20 })}, {25, warn, nil}, {61, crit, nil},
		}},
		{"a small percent threshold still clears: the margin is at most half of it", issue.Pressure, []step{
			{5, warn, with(func(s *Settings) { s.Thresholds[issue.Pressure] = 4; s.For = 1 })}, {2, warn, nil}, {1.9, ok, nil},
		}},
		{"a margin of 0 clears just below the threshold", issue.CPU, []step{
			{81, warn, with(func(s *Settings) { s.Margin = 0; s.For = 1 })}, {80, warn, nil}, {79.9, ok, nil},
		}},
		{"a raised threshold clears an open issue at the next sample", issue.CPU, []step{
			{85, ok, nil}, {85, warn, nil}, {85, ok, with(func(s *Settings) { s.Thresholds[issue.CPU] = 95 })},
		}},
		{"a lowered threshold makes an open issue critical at the next sample", issue.CPU, []step{
			{85, ok, nil}, {85, warn, nil}, {85, crit, with(func(s *Settings) { s.Thresholds[issue.CPU] = 50 })},
		}},
		{"a threshold switched off clears an open issue", issue.CPU, []step{
			{85, ok, nil}, {85, warn, nil}, {85, ok, with(func(s *Settings) { delete(s.Thresholds, issue.CPU) })}, {85, ok, nil},
		}},
		{"a lowered threshold counts the samples above it as usual", issue.CPU, []step{
			{60, ok, nil}, {60, ok, with(func(s *Settings) { s.Thresholds[issue.CPU] = 50 })}, {60, warn, nil},
		}},
		{"a raised For keeps the count already made", issue.CPU, []step{
			{81, ok, nil}, {81, ok, with(func(s *Settings) { s.For = 3 })}, {81, warn, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEvaluator(defaults())
			id := issue.ID(tt.kind, "x")
			sev := ok
			var changes []Change
			for i, st := range tt.steps {
				if st.set != nil {
					e.SetSettings(*st.set)
				}
				snap := &Snapshot{Readings: []Reading{{ID: id, Kind: tt.kind, Subject: "x", Value: st.value}}}
				changes = e.Evaluate(snap, changes[:0])
				// A severity moves if and only if a Change says so, and
				// the Change says where from.
				wantChanges := 0
				if st.want != sev {
					wantChanges = 1
				}
				if len(changes) != wantChanges {
					t.Fatalf("step %d (value %v): got %d changes %+v; want %d (severity %v → %v)", i+1, st.value, len(changes), changes, wantChanges, sev, st.want)
				}
				if wantChanges == 1 {
					c := changes[0]
					if c.Severity != st.want || c.Was != sev || c.ID != id || c.Value != st.value {
						t.Fatalf("step %d: got change %+v; want %v → %v for %s at %v", i+1, c, sev, st.want, id, st.value)
					}
				}
				sev = st.want
			}
		})
	}
}

func TestChangeCarriesTheThreshold(t *testing.T) {
	s := defaults()
	s.For = 1
	e := NewEvaluator(s)
	snap := &Snapshot{Readings: []Reading{{ID: "disk:/nix", Kind: issue.Disk, Subject: "/nix", Value: 91}}}
	got := e.Evaluate(snap, nil)
	want := Change{Reading: snap.Readings[0], Threshold: 90, Severity: warn, Was: ok}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v; want [%+v]", got, want)
	}

	delete(s.Thresholds, issue.Disk)
	e.SetSettings(s)
	got = e.Evaluate(snap, nil)
	want = Change{Reading: snap.Readings[0], Threshold: 0, Severity: ok, Was: warn}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("after switching disk off: got %+v; want [%+v]", got, want)
	}
}

func TestSeriesAreIndependent(t *testing.T) {
	s := defaults()
	e := NewEvaluator(s)
	snap := func(root, nix float64) *Snapshot {
		return &Snapshot{Readings: []Reading{
			{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: root},
			{ID: "inodes:/", Kind: issue.Disk, Subject: "/", Value: 10},
			{ID: "disk:/nix", Kind: issue.Disk, Subject: "/nix", Value: nix},
		}}
	}
	e.Evaluate(snap(91, 50), nil)
	got := e.Evaluate(snap(50, 91), nil)
	if len(got) != 0 {
		t.Fatalf("got %+v; want no change: neither mount was above for 2 samples", got)
	}
	got = e.Evaluate(snap(50, 96), nil)
	if len(got) != 1 || got[0].ID != "disk:/nix" || got[0].Severity != crit {
		t.Fatalf("got %+v; want disk:/nix opening critical", got)
	}
}

func TestMissingReadingKeepsState(t *testing.T) {
	e := NewEvaluator(defaults())
	cpu := &Snapshot{Readings: []Reading{{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 99}}}
	empty := &Snapshot{}
	e.Evaluate(cpu, nil)
	if got := e.Evaluate(empty, nil); len(got) != 0 {
		t.Fatalf("got %+v; want nothing from an empty snapshot", got)
	}
	if got := e.Evaluate(cpu, nil); len(got) != 1 || got[0].Severity != crit {
		t.Fatalf("got %+v; want cpu opening critical on its second sample above", got)
	}
	if got := e.Evaluate(empty, nil); len(got) != 0 {
		t.Fatalf("got %+v; want an open issue to stay open while its series is missing", got)
	}
}

func TestForget(t *testing.T) {
	s := defaults()
	s.For = 1
	e := NewEvaluator(s)
	snap := &Snapshot{Readings: []Reading{{ID: "disk:/srv", Kind: issue.Disk, Subject: "/srv", Value: 95}}}
	e.Evaluate(snap, nil)
	e.Forget("disk:/srv")
	got := e.Evaluate(snap, nil)
	if len(got) != 1 || got[0].Was != ok || got[0].Severity != warn {
		t.Fatalf("got %+v; want a forgotten series to open afresh", got)
	}
}

func TestSetSettingsCopiesThresholds(t *testing.T) {
	s := defaults()
	s.For = 1
	e := NewEvaluator(s)
	s.Thresholds[issue.CPU] = 10 // the caller's map, changed after the fact
	snap := &Snapshot{Readings: []Reading{{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 50}}}
	if got := e.Evaluate(snap, nil); len(got) != 0 {
		t.Fatalf("got %+v; want the evaluator to keep its own copy of the thresholds", got)
	}
}

func TestSeverityOf(t *testing.T) {
	tests := []struct {
		kind             issue.Kind
		value, threshold float64
		want             issue.Severity
	}{
		{issue.CPU, 80, 80, ok},
		{issue.CPU, 80.01, 80, warn},
		{issue.CPU, 90, 80, warn},
		{issue.CPU, 90.01, 80, crit},
		{issue.Disk, 100, 100, ok},
		{issue.Memory, 50, 0, ok},
		{issue.Load, 5.99, 3, warn},
		{issue.Load, 6.01, 3, crit},
		{issue.Load, 500, 3, crit},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s at %v against %v is %v", tt.kind, tt.value, tt.threshold, tt.want)
		t.Run(name, func(t *testing.T) {
			if got := SeverityOf(tt.kind, tt.value, tt.threshold); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}
