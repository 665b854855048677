package synth

import (
	"slices"
	"testing"
	"time"
)

func TestChunkedSeriesHaveTheTruthTheirDocsSay(t *testing.T) {
	// 0.52 points every 1.3 intervals: 77 chunks reach 40 points, the
	// 77th after 76–77 periods depending on the phase.
	for seed := uint64(1); seed <= 5; seed++ {
		s := Chunked(seed, 1.3, 0.52, 0)
		if s.Crossing < 0 {
			t.Fatalf("seed %d: never crosses", seed)
		}
		got := s.CrossAt.Sub(s.Start)
		lo, hi := time.Duration(76*1.3*float64(Interval)), time.Duration(77*1.3*float64(Interval))
		if got < lo || got > hi {
			t.Errorf("seed %d: crosses after %s; want between %s and %s", seed, got, lo, hi)
		}
		for i := 1; i < len(s.Truth); i++ {
			if d := s.Truth[i] - s.Truth[i-1]; d < 0 || d > 0.52+1e-9 {
				t.Errorf("seed %d, sample %d: the path moved %g; want 0 or one chunk", seed, i, d)
				break
			}
		}
	}
	if s := Cleaned(1, 600, 0.97, 0.2, 13, 0, 0.02); s.Crossing >= 0 || slices.Max(s.Truth) > 50+0.2*(13/0.97+1) {
		t.Errorf("level-peaked saw-tooth: crossing %d, peak %.1f; want no crossing, peaks one cleaning's worth above 50", s.Crossing, slices.Max(s.Truth))
	}
	if s := Cleaned(1, 600, 0.97, 0.2, 13, 1.3, 0.02); s.Crossing < 0 {
		t.Error("saw-tooth with rising peaks: never crosses; want a crossing")
	}
	for _, s := range []*Series{Flat(1, 600, 0.5, 0.7), Jump(1, 300, 10, 0.2)} {
		if s.Crossing >= 0 {
			t.Errorf("%s crosses at sample %d; want never", s.Pattern, s.Crossing)
		}
	}
	if a, b := Chunked(7, 0.97, 0.4, 0.08), Chunked(7, 0.97, 0.4, 0.08); !slices.Equal(a.Values, b.Values) {
		t.Error("a seed gave two different chunked series")
	}
}
