package synth

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestASeedAlwaysGivesTheSameSeries(t *testing.T) {
	for _, p := range Patterns {
		a, b, c := p.Generate(7), p.Generate(7), p.Generate(8)
		if !slices.Equal(a.Values, b.Values) {
			t.Errorf("%s: seed 7 gave two different series", p.Name)
		}
		if slices.Equal(a.Values, c.Values) {
			t.Errorf("%s: seeds 7 and 8 gave the same series", p.Name)
		}
	}
}

func TestTheTruthIsWhatTheDocsSay(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		crosses time.Duration // 0: never
	}{
		{"steady-fill", 6*time.Hour + 40*time.Minute},
		{"slow-leak", 17*time.Hour + 30*time.Minute},
		{"saw-tooth", 0},
		{"daily-cycle", 0},
		{"step", 0},
	} {
		p, ok := Find(tc.pattern)
		if !ok {
			t.Fatalf("no pattern %q", tc.pattern)
		}
		s := p.Generate(1)
		if tc.crosses == 0 {
			if s.Crossing >= 0 || slices.Max(s.Truth) >= s.Threshold {
				t.Errorf("%s crosses at sample %d; want never", tc.pattern, s.Crossing)
			}
			continue
		}
		got := s.CrossAt.Sub(s.Start)
		if d := got - tc.crosses; d < -time.Second || d > time.Second {
			t.Errorf("%s crosses after %s; want %s", tc.pattern, got, tc.crosses)
		}
		if d, _ := s.TimeToThreshold(0); d != got {
			t.Errorf("%s: TimeToThreshold(0) = %s; want %s", tc.pattern, d, got)
		}
		for _, v := range s.Values {
			if math.IsNaN(v) || v < 0 || v > 100 {
				t.Fatalf("%s has value %v outside 0–100", tc.pattern, v)
			}
		}
	}
}
