package synth

import "math"

// The series of a writer that appends fixed chunks at a fixed period,
// sampled at an interval that is not a multiple of it: the steps alias
// against the samples, so some intervals see a chunk (or two) and others
// none, and the residuals around the trend beat slowly — the slower the
// closer the period is to a simple fraction of the interval. Periods are
// in sampling intervals, so 1.3 stands for 50 MiB every 1.3 s sampled
// every second, and 1.4 for every 7 s sampled every 5 s.

// Chunked is a disk at 50 % to which a writer adds chunk points every
// period intervals from a random phase, under white noise of deviation
// sigma; its threshold is 90 %.
func Chunked(seed uint64, period, chunk, sigma float64) *Series {
	r := newRand(seed, "chunked-fill")
	phase := r.Float64()
	n := int(math.Ceil(math.Ceil(40/chunk)*period)) + 2 // past the crossing whatever the phase
	return build("chunked-fill", n, 90, func(h float64) float64 {
		return 50 + chunk*chunks(h, period, phase)
	}, func() float64 { return sigma * r.NormFloat64() })
}

// Cleaned is the same writer on a disk at 50 % that a cleaner empties every
// every intervals, leaving keep points more of the writer's data after each
// cleaning than after the one before: a saw-tooth whose peaks stay level
// when keep is 0 and rise keep points a tooth otherwise. Its threshold is
// 90 %; n samples.
func Cleaned(seed uint64, n int, period, chunk, every, keep, sigma float64) *Series {
	r := newRand(seed, "cleaned")
	phase, cphase := r.Float64(), r.Float64()*every
	return build("cleaned", n, 90, func(h float64) float64 {
		u := h / Interval.Hours()
		k := math.Floor((u + cphase) / every) // cleanings so far
		since := (k*every - cphase) * Interval.Hours()
		written := chunk * (chunks(h, period, phase) - chunks(max(since, 0), period, phase))
		if k == 0 {
			written = chunk * chunks(h, period, phase)
		}
		return 50 + k*keep + written
	}, func() float64 { return sigma * r.NormFloat64() })
}

// Flat is a disk at 60 % under AR(1) noise of deviation sigma and lag-1
// correlation phi (0: white); n samples, threshold 90 %.
func Flat(seed uint64, n int, sigma, phi float64) *Series {
	r := newRand(seed, "flat")
	return build("flat", n, 90, func(float64) float64 { return 60 }, ar1(r, sigma, phi))
}

// chunks is how many chunks a writer every period intervals from phase
// has appended by h hours.
func chunks(h, period, phase float64) float64 {
	return math.Floor(h/Interval.Hours()/period + phase)
}

// Jump is a disk at 50 % to which one chunk of height points is written at
// a random time in the middle third of n samples, and nothing after, under
// white noise of deviation sigma; threshold 90 %.
func Jump(seed uint64, n int, height, sigma float64) *Series {
	r := newRand(seed, "jump")
	at := (1 + r.Float64()) * float64(n) / 3 * Interval.Hours()
	return build("jump", n, 90, func(h float64) float64 {
		if h < at {
			return 50
		}
		return 50 + height
	}, func() float64 { return sigma * r.NormFloat64() })
}
