// Package synth generates realistic resource series with a known truth, for
// choosing and checking the trend model of internal/predict
// (docs/prediction.md). Every series is a noise-free path — whose crossing
// of the threshold, if any, is known exactly — plus noise drawn from a
// seeded generator, so a seed always gives the same series.
//
// It imports nothing from this module; only tests and benchmarks use it.
package synth

import (
	"math"
	"math/rand/v2"
	"time"
)

// Series is a generated series sampled every Step from Start.
type Series struct {
	Pattern   string
	Start     time.Time
	Step      time.Duration
	Values    []float64 // what the daemon would sample: Truth plus noise
	Truth     []float64 // the noise-free path
	Threshold float64
	// Crossing is the index of the first sample at which the noise-free
	// path is at or above Threshold, or -1 when it never is within the series.
	Crossing int
	// CrossAt is the exact time the noise-free path reaches Threshold,
	// interpolated between samples; zero when Crossing is -1.
	CrossAt time.Time
}

// At is the time of sample i.
func (s *Series) At(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// TimeToThreshold is the true time from sample i to the crossing; ok is
// false when the path does not cross within the series.
func (s *Series) TimeToThreshold(i int) (d time.Duration, ok bool) {
	if s.Crossing < 0 {
		return 0, false
	}
	return s.CrossAt.Sub(s.At(i)), true
}

// Pattern makes one kind of series from a seed.
type Pattern struct {
	Name string
	// What it models, for the documentation's table.
	Doc      string
	Generate func(seed uint64) *Series
}

// Interval is the sampling interval of every pattern:
// monitoring.interval's default.
const Interval = time.Minute

// Epoch is the first sample's time: fixed, so series are reproducible.
var Epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// Patterns are the series the model is chosen on.
var Patterns = []Pattern{
	{"steady-fill", "a disk filling at 6 points/h (a runaway log, a download) from 50 %, " +
		"σ = 0.2 jitter plus short spikes of temporary files on 2 % of samples; crosses 90 % after 6 h 40 min", SteadyFill},
	{"saw-tooth", "log rotation: /var/log grows 8 points/h from 72 % and is rotated back every hour; " +
		"peaks at 80 %, never reaches 90 %, yet every tooth extrapolated alone reaches 90 % within 2 h", SawTooth},
	{"daily-cycle", "memory of a busy host: 55 % ± 15 % over 24 h with AR(1) noise (σ = 1, φ = 0.7); " +
		"peaks at 70 %, never reaches 85 %", DailyCycle},
	{"step", "a disk at 50 % that jumps to 70 % in one sample (a large copy) and stays; never reaches 90 %", StepChange},
	{"slow-leak", "memory leaking 2 points/h from 50 % under AR(1) noise (σ = 1.5, φ = 0.7); " +
		"crosses 85 % after 17 h 30 min", SlowLeak},
}

// Find returns the pattern with the given name.
func Find(name string) (Pattern, bool) {
	for _, p := range Patterns {
		if p.Name == name {
			return p, true
		}
	}
	return Pattern{}, false
}

func newRand(seed uint64, pattern string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(pattern); i++ {
		h ^= uint64(pattern[i])
		h *= 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h))
}

// build samples path at n steps, adds noise and finds the crossing.
func build(name string, n int, threshold float64, path func(hours float64) float64, noise func() float64) *Series {
	s := &Series{Pattern: name, Start: Epoch, Step: Interval, Threshold: threshold, Crossing: -1,
		Values: make([]float64, n), Truth: make([]float64, n)}
	for i := range n {
		h := float64(i) * Interval.Hours()
		s.Truth[i] = path(h)
		s.Values[i] = clamp(s.Truth[i] + noise())
		if s.Crossing < 0 && s.Truth[i] >= threshold {
			s.Crossing = i
			// Bisect between the two samples for the exact time.
			lo, hi := h-Interval.Hours(), h
			if i == 0 {
				lo = h
			}
			for range 50 {
				mid := (lo + hi) / 2
				if path(mid) >= threshold {
					hi = mid
				} else {
					lo = mid
				}
			}
			s.CrossAt = Epoch.Add(time.Duration(hi * float64(time.Hour)))
		}
	}
	return s
}

func clamp(v float64) float64 { return min(max(v, 0), 100) }

// ar1 is autoregressive noise with stationary deviation sigma.
func ar1(r *rand.Rand, sigma, phi float64) func() float64 {
	e := r.NormFloat64() * sigma
	inno := sigma * math.Sqrt(1-phi*phi)
	return func() float64 {
		e = phi*e + inno*r.NormFloat64()
		return e
	}
}

// SteadyFill is a disk filling at a constant rate with jitter and the
// occasional temporary file.
func SteadyFill(seed uint64) *Series {
	r := newRand(seed, "steady-fill")
	const start, rate = 50.0, 6.0 // %, %/h
	return build("steady-fill", 420, 90, func(h float64) float64 { return start + rate*h },
		func() float64 {
			e := 0.2 * r.NormFloat64()
			if r.Float64() < 0.02 {
				e += 0.5 + 1.5*r.Float64() // a temporary file, gone by the next sample
			}
			return e
		})
}

// SawTooth is a log directory that grows and is rotated every hour.
func SawTooth(seed uint64) *Series {
	r := newRand(seed, "saw-tooth")
	const base, rate, period = 72.0, 8.0, 1.0 // %, %/h, h
	phase := r.Float64() * period
	return build("saw-tooth", 600, 90, func(h float64) float64 {
		return base + rate*math.Mod(h+phase, period)
	}, func() float64 { return 0.1 * r.NormFloat64() })
}

// DailyCycle is memory use following the day.
func DailyCycle(seed uint64) *Series {
	r := newRand(seed, "daily-cycle")
	phase := r.Float64() * 2 * math.Pi
	return build("daily-cycle", 1440, 85, func(h float64) float64 {
		return 55 + 15*math.Sin(2*math.Pi*h/24+phase)
	}, ar1(r, 1, 0.7))
}

// StepChange is a disk that jumps once and stays.
func StepChange(seed uint64) *Series {
	r := newRand(seed, "step")
	at := 2 + 2*r.Float64() // hours
	return build("step", 600, 90, func(h float64) float64 {
		if h < at {
			return 50
		}
		return 70
	}, func() float64 { return 0.2 * r.NormFloat64() })
}

// SlowLeak is memory leaking under noise.
func SlowLeak(seed uint64) *Series {
	r := newRand(seed, "slow-leak")
	return build("slow-leak", 1080, 85, func(h float64) float64 { return 50 + 2*h }, ar1(r, 1.5, 0.7))
}
