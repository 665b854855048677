package predict

import (
	"math"
	"time"
)

// The model, chosen on the comparison in docs/prediction.md: a straight line
// fitted by least squares to the window after dropping the points further
// than trimK robust standard deviations from a first fit (short-lived
// temporary files, a one-sample glitch), judged by how precisely it places
// the crossing once the residuals' autocorrelation is accounted for.

const (
	// MinSamples is how many points a series needs before it is forecast.
	MinSamples = 10
	// MinReport is the confidence below which a series counts as too
	// noisy and nothing is reported: its 90 % interval for the time to
	// threshold is wider than ±50 %, which cannot tell 4 h from 12 h.
	MinReport = 0.5
	// MaxTimeToThreshold is the furthest crossing reported; a slower rise
	// counts as flat.
	MaxTimeToThreshold = 365 * 24 * time.Hour
	// maxRho caps the residuals' lag-1 autocorrelation, so a perfectly
	// smooth misfit still has a finite (tiny) effective sample size.
	maxRho = 0.95
	// trimK is how many robust standard deviations (1.4826·MAD) from the
	// first fit a point may lie before it is left out of the second.
	trimK = 3
	// Residuals too persistent for MinSamples effectively independent
	// samples are a curve the line does not follow — unless they are
	// rough: two successive residuals differ by at least roughJump of
	// their range, more than a smooth curve's could (a parabola's change
	// by about 4/n of their range from one sample to the next over n
	// samples, a sine's or a cubic's by about 5/n: smoothStep/n leaves
	// twice that), and their range is at most maxSpread of the line's
	// rise over the window. That is a periodic writer's chunks beating
	// against the samples (docs/prediction.md, "Chunked writers"): one
	// chunk among many is a small part of the rise, where a single step
	// is all of it.
	roughJump  = 1.0 / 3
	smoothStep = 10.0
	maxSpread  = 1.0 / 4
)

// Reason says why a series has, or has no, forecast.
type Reason uint8

const (
	Forecasted  Reason = iota
	TooFew             // fewer than MinSamples points since the last break
	Falling            // the fitted trend is not rising
	Flat               // rising too slowly to cross within MaxTimeToThreshold
	TooNoisy           // confidence below MinReport
	Reached            // already at or above the threshold
	NoThreshold        // the series has no threshold (switched off)
)

func (r Reason) String() string {
	return [...]string{"forecast", "too few samples", "falling", "flat", "too noisy", "threshold reached", "no threshold"}[r]
}

// line is a straight trend: the level at the window's last sample and the
// slope in points per hour.
type line struct{ level, slope float64 }

// ols fits a line by ordinary least squares. x are hours relative to the
// last sample (all ≤ 0).
func ols(x, y []float64) line {
	n := float64(len(x))
	var sx, sy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range x {
		dx := x[i] - mx
		sxx += dx * dx
		sxy += dx * (y[i] - my)
	}
	if sxx == 0 {
		return line{level: my}
	}
	b := sxy / sxx
	return line{level: my - b*mx, slope: b}
}

// trend is a fitted line with the uncertainty of its extrapolation.
type trend struct {
	line
	n    int
	rho  float64 // lag-1 autocorrelation of the residuals, clamped to [0, maxRho]
	neff float64 // effective sample size, n·(1−ρ)/(1+ρ)
	// Variances of the level and the slope and their covariance, from the
	// residuals, inflated by (1+ρ)/(1−ρ) for autocorrelation.
	varLevel, varSlope, cov float64
}

// assess measures how well l describes the window: the residuals' spread
// and autocorrelation give the level's and slope's standard errors as for
// a least-squares line, with the sample size shrunk to the number of
// effectively independent residuals. Saw-teeth, steps and cycles leave
// long runs of same-signed residuals, so they earn little confidence even
// where a line fits them tolerably.
func assess(x, y []float64, l line) trend {
	n := len(x)
	t := trend{line: l, n: n}
	var mx float64
	for _, v := range x {
		mx += v
	}
	mx /= float64(n)
	var sxx, ss, lag, prev float64
	for i := range x {
		dx := x[i] - mx
		sxx += dx * dx
		e := y[i] - (l.level + l.slope*x[i])
		ss += e * e
		if i > 0 {
			lag += e * prev
		}
		prev = e
	}
	if ss > 1e-18*float64(n)*(1+l.level*l.level) { // not a perfect line up to rounding
		r := lag / ss
		r += (1 + 4*r) / float64(n) // the estimate's bias in short series
		t.rho = min(max(r, 0), maxRho)
	}
	infl := (1 + t.rho) / (1 - t.rho)
	t.neff = float64(n) / infl
	if n <= 2 || sxx == 0 {
		t.varLevel, t.varSlope = math.Inf(1), math.Inf(1)
		return t
	}
	s2 := ss / float64(n-2) * infl
	t.varSlope = s2 / sxx
	t.varLevel = s2 * (1/float64(n) + mx*mx/sxx)
	t.cov = -s2 * mx / sxx
	return t
}

// crossing is the time to reach threshold along t and the confidence in it:
// 1 − the half-width of its 90 % interval relative to the estimate. A
// confidence of 0.8 means the crossing is expected within ±20 % of the
// time given, nine times out of ten.
func (t trend) crossing(threshold float64) (hours, confidence float64) {
	hours = (threshold - t.level) / t.slope
	// Delta method on T = (θ − L)/b.
	v := (t.varLevel + hours*hours*t.varSlope + 2*hours*t.cov) / (t.slope * t.slope)
	if v < 0 || math.IsNaN(v) {
		v = 0
	}
	df := max(t.neff-2, 1)
	r := tQuantile95(df) * math.Sqrt(v) / hours
	return hours, min(max(1-r, 0), 1)
}

// rough reports whether the residuals of x, y around l jump like a chunked
// fill's rather than follow a curve (see roughJump). It is asked only of
// the few windows whose residuals are too persistent to be judged
// otherwise, so the common fit does not pay for it.
func rough(x, y []float64, l line) bool {
	n := len(x)
	var jump, prev float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range x {
		e := y[i] - (l.level + l.slope*x[i])
		if i > 0 {
			jump = max(jump, math.Abs(e-prev))
		}
		prev = e
		lo, hi = min(lo, e), max(hi, e)
	}
	spread := hi - lo
	return jump >= spread*max(roughJump, smoothStep/float64(n)) && spread <= maxSpread*l.slope*(x[n-1]-x[0])
}

// tQuantile95 is the 95th percentile of Student's t with df degrees of
// freedom: exact for df ≤ 2, the Cornish–Fisher expansion above (within
// 0.1 % from df = 3).
func tQuantile95(df float64) float64 {
	const z = 1.6448536269514722
	switch {
	case df <= 1:
		return 6.313751514675043
	case df <= 2:
		return 2.919985580353726
	}
	z2 := z * z
	g1 := (z2 + 1) * z / 4
	g2 := ((5*z2+16)*z2 + 3) * z / 96
	g3 := (((3*z2+19)*z2+17)*z2 - 15) * z / 384
	g4 := ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) * z / 92160
	return z + g1/df + g2/(df*df) + g3/(df*df*df) + g4/(df*df*df*df)
}

// window is a series' points prepared for fitting, with scratch space
// reused from one fit to the next.
type window struct {
	x, y     []float64 // hours relative to the last point; values
	res, sel []float64
}

// load fills w with pts.
func (w *window) load(pts []Point) {
	w.x, w.y = w.x[:0], w.y[:0]
	last := pts[len(pts)-1].T
	for _, p := range pts {
		w.x = append(w.x, p.T.Sub(last).Hours())
		w.y = append(w.y, p.V)
	}
}

// trim fits a line, then drops the points further than trimK robust
// standard deviations from it. Nothing is dropped where that would leave
// fewer than MinSamples points, or where most points sit exactly on the line.
func (w *window) trim() {
	l := ols(w.x, w.y)
	w.res = w.res[:0]
	for i := range w.x {
		w.res = append(w.res, math.Abs(w.y[i]-(l.level+l.slope*w.x[i])))
	}
	w.sel = append(w.sel[:0], w.res...)
	mad := nth(w.sel, len(w.sel)/2)
	if mad == 0 {
		return
	}
	cut := trimK * 1.4826 * mad
	k := 0
	for i := range w.x {
		if w.res[i] <= cut {
			k++
		}
	}
	if k < MinSamples || k == len(w.x) {
		return
	}
	j := 0
	for i := range w.x {
		if w.res[i] <= cut {
			w.x[j], w.y[j] = w.x[i], w.y[i]
			j++
		}
	}
	w.x, w.y = w.x[:j], w.y[:j]
}

// nth returns the k-th smallest of v (0-based), reordering v.
func nth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		p := v[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// estimate fits the window and decides what, if anything, to report; last
// is the latest value, which trimming may have left out of the window.
func estimate(x, y []float64, last, threshold float64, fit func(x, y []float64) line) (trend, float64, float64, Reason) {
	if threshold <= 0 {
		return trend{}, 0, 0, NoThreshold
	}
	if len(x) < MinSamples {
		return trend{}, 0, 0, TooFew
	}
	t := assess(x, y, fit(x, y))
	if last >= threshold || t.level >= threshold {
		return t, 0, 0, Reached
	}
	if !(t.slope > 0) {
		return t, 0, 0, Falling
	}
	hours, conf := t.crossing(threshold)
	switch {
	case hours > MaxTimeToThreshold.Hours():
		return t, hours, conf, Flat
	case conf < MinReport || t.neff < MinSamples && !rough(x, y, t.line):
		return t, hours, conf, TooNoisy
	}
	return t, hours, conf, Forecasted
}
