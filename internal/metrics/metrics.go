// Package metrics exports the daemon's measurements in the Prometheus format
// (SPEC §8): it implements the engine's Recorder with client_golang and owns
// the registry behind /metrics, with the Go and process collectors beside
// the daemon's own metrics. docs/metrics.md lists every metric.
//
// It is an adapter: it imports the shared leaf packages (issue, detect, heal,
// predict) and nothing above them. Only cmd/ wires it into the engine; the
// HTTP listener (internal/web) serves its Handler.
package metrics

import (
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/probe"
)

// healingActions are the actions that heal an issue: the values of the
// action label of the resolved and failed counters.
var healingActions = []issue.Action{issue.Restart, issue.Cleanup, issue.Throttle, issue.Reload}

// allActions adds release, which lifts a throttle and heals nothing.
var allActions = append(append([]issue.Action(nil), healingActions...), heal.Release)

var outcomes = []heal.Outcome{heal.Succeeded, heal.Failed, heal.Planned, heal.Refused}

// thresholdKinds are the kinds whose thresholds are percentages.
var thresholdKinds = []issue.Kind{issue.CPU, issue.Memory, issue.Disk, issue.Pressure}

// Recorder holds the daemon's metrics. It implements engine.Recorder and is
// safe for concurrent use.
type Recorder struct {
	reg *prometheus.Registry

	detected       *prometheus.CounterVec
	resolved       *prometheus.CounterVec
	failed         *prometheus.CounterVec
	actions        *prometheus.CounterVec
	lastCheck      prometheus.Gauge
	detection      prometheus.Histogram
	resolution     prometheus.Histogram
	actionDuration *prometheus.HistogramVec
	timeTo         *prometheus.GaugeVec
	usage          *prometheus.GaugeVec
	load           prometheus.Gauge
	threshold      *prometheus.GaugeVec
	loadThreshold  prometheus.Gauge
	freed          *prometheus.CounterVec
	breaker        *prometheus.GaugeVec
	dryRun         prometheus.Gauge
	enabled        prometheus.Gauge
	interval       prometheus.Gauge
	active         *prometheus.GaugeVec
	bySystemd      *prometheus.CounterVec
	relapses       *prometheus.CounterVec
	silenced       prometheus.Gauge
	probeDuration  *prometheus.HistogramVec
	probeFailures  *prometheus.CounterVec

	mu         sync.Mutex
	succeeded  float64 // healing actions that succeeded, for the success ratio
	failures   float64 // ... and that failed
	accuracy   func() (float64, bool)
	resources  map[string]bool // label values set, to drop the ones that go away
	forecasts  map[string]bool
	breakers   map[string]bool
	haveLoad   bool
	thresholds map[issue.Kind]bool
}

// Options configure a Recorder.
type Options struct {
	Version string
	// Accuracy reports the prediction accuracy score (0–1) and whether
	// there is one yet; nil until prediction scores its forecasts.
	Accuracy func() (float64, bool)
	// AuditDropped reports how many audit records were not sent to the
	// journal because it did not keep up (audit.Log.Dropped); nil: none.
	AuditDropped func() uint64
}

// New returns a Recorder with every metric registered, including the Go
// runtime and process collectors.
func New(o Options) *Recorder {
	r := &Recorder{
		reg:        prometheus.NewRegistry(),
		accuracy:   o.Accuracy,
		resources:  map[string]bool{},
		forecasts:  map[string]bool{},
		breakers:   map[string]bool{},
		thresholds: map[issue.Kind]bool{},
	}
	r.detected = counterVec("healing_issues_detected_total", "Issues opened, by kind (injected synthetic issues included).", "kind")
	r.resolved = counterVec("healing_issues_resolved_total", "Healing actions that ran and succeeded, by action.", "action")
	r.failed = counterVec("healing_issues_failed_total", "Healing actions that ran and failed, by action.", "action")
	r.actions = counterVec("healing_actions_total", "Actions by action and outcome: succeeded, failed, planned (dry-run) or refused (a safety rule).", "action", "outcome")
	r.lastCheck = gauge("healing_last_check_timestamp_seconds", "When the last monitoring pass sampled, in seconds since the epoch.")
	successRatio := gaugeFunc("healing_success_ratio", "Share of the healing actions run since the daemon started that succeeded; NaN before the first.", r.successRatio)
	// A pass takes about 10 µs; the top buckets catch a stalled /proc or statfs.
	r.detection = histogram("healing_detection_duration_seconds", "Time one monitoring pass takes to sample every signal and evaluate the thresholds.",
		[]float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 25e-3, 0.1, 0.5, 2.5})
	r.resolution = histogram("healing_resolution_duration_seconds", "Time from an issue's detection to its resolution.",
		[]float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600})
	r.actionDuration = histogramVec("healing_action_duration_seconds", "Time an action that ran took, including waiting for systemd's job, by action.",
		[]float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 90}, "action")
	// A loopback connect takes well under a millisecond; a hung server
	// takes the probe's timeout (5 s by default).
	r.probeDuration = histogramVec("healing_probe_duration_seconds", "Time one health probe took, passed or failed, by unit and probe type (http, tcp, unix, command).",
		[]float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "unit", "type")
	r.probeFailures = counterVec("healing_probe_failures_total", "Health probes that failed, by unit and probe type, counted whether or not they made an issue.", "unit", "type")
	r.timeTo = gaugeVec("healing_time_to_threshold_seconds", "Predicted time until a resource series crosses its threshold; absent when no rising trend is forecast.", "resource")
	r.usage = gaugeVec("healing_resource_usage_ratio", "Latest reading of each percentage series (cpu, memory, disk:MOUNT, inodes:MOUNT, pressure:RESOURCE) as a ratio 0–1.", "resource")
	r.load = gauge("healing_load_average", "Latest 1-minute load average (not a ratio, so not in healing_resource_usage_ratio).")
	r.threshold = gaugeVec("healing_threshold_ratio", "Threshold in force for each percentage kind, as a ratio 0–1; absent when off.", "kind")
	r.loadThreshold = gauge("healing_load_average_threshold", "Load average threshold in force.")
	r.freed = counterVec("healing_cleanup_freed_bytes_total", "Bytes freed by cleanup actions, per mount point.", "mount")
	r.breaker = gaugeVec("healing_breaker_open", "1 when healing of an issue is given up (the breaker is open), 0 while it only backs off; absent when the breaker is idle.", "issue")
	r.dryRun = gauge("healing_dry_run", "1 when actions are planned and recorded instead of executed.")
	r.enabled = gauge("healing_enabled", "1 when automatic healing is on.")
	r.interval = gauge("healing_check_interval_seconds", "Time between monitoring passes (monitoring.interval), for alerts on checks that stop.")
	r.active = gaugeVec("healing_active_issues", "Issues open now, by severity.", "severity")
	r.bySystemd = counterVec("healing_unit_restarts_by_systemd_total", "Restarts systemd did by itself (Restart=) of a monitored unit, seen from its NRestarts; the daemon did not act.", "unit")
	r.relapses = counterVec("healing_relapses_total", "Issues that came back after a successful action, by kind and whether that action had held for healing.stable_after (held=\"true\": a new incident, healed at once) or not (a failed attempt for the breaker).", "kind", "held")
	r.silenced = gauge("healing_issues_silenced", "Issues open now that a silence or maintenance window covers: detected and counted as any other, not healed automatically.")
	accuracy := gaugeFunc("healing_prediction_accuracy_ratio", "Share of scored forecasts that came true; NaN until forecasts have been scored.", r.predictionAccuracy)
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "healing_audit_journal_dropped_total",
		Help: "Audit records not sent to the journal because it did not keep up; each is in the history, and the journal says how many where they were.",
	}, func() float64 {
		if o.AuditDropped == nil {
			return 0
		}
		return float64(o.AuditDropped())
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "healing_build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": o.Version},
	})
	build.Set(1)

	r.reg.MustRegister(
		r.detected, r.resolved, r.failed, r.actions, r.lastCheck, successRatio,
		r.detection, r.resolution, r.actionDuration, accuracy, r.timeTo, r.usage,
		r.load, r.threshold, r.loadThreshold, r.freed, r.breaker, r.dryRun,
		r.enabled, r.interval, r.active, r.bySystemd, r.relapses, r.silenced, build,
		r.probeDuration, r.probeFailures, dropped,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	// Every series with a known, bounded label set exists from the start,
	// so that rate() and absent() see a zero rather than nothing.
	for _, k := range issue.Kinds {
		r.detected.WithLabelValues(string(k))
	}
	for _, a := range healingActions {
		r.resolved.WithLabelValues(string(a))
		r.failed.WithLabelValues(string(a))
	}
	for _, a := range allActions {
		for _, o := range outcomes {
			r.actions.WithLabelValues(string(a), string(o))
		}
	}
	for _, s := range []issue.Severity{issue.Warning, issue.Critical} {
		r.active.WithLabelValues(s.String())
	}
	return r
}

// The metrics' constructors: one line a metric in New, so that the list
// reads as the table docs/metrics.md is.

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

func gaugeFunc(name, help string, f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

func histogram(name, help string, buckets []float64) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// Registry is where the metrics are registered, for tests and for
// collectors added by other packages.
func (r *Recorder) Registry() *prometheus.Registry { return r.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it), gzipped when accepted, at
// most four scrapes at a time (more get 503). promhttp negotiates the
// format and limits the scrapes; the gzip is ours, at BestSpeed: at
// promhttp's default level compressing was a third of a scrape's time
// for a body of a few KB (docs/performance.md). The server's
// WriteTimeout bounds a scrape; the collectors only read memory and /proc.
func (r *Recorder) Handler() http.Handler {
	h := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		EnableOpenMetrics:   true,
		DisableCompression:  true,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !AcceptsGzip(req.Header.Get("Accept-Encoding")) {
			h.ServeHTTP(w, req)
			return
		}
		z := gzips.Get().(*gzip.Writer)
		defer gzips.Put(z)
		z.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		h.ServeHTTP(gzipWriter{w, z}, req)
		z.Close()
	})
}

var gzips = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return z
}}

// gzipWriter sends what promhttp writes through the gzip writer.
type gzipWriter struct {
	http.ResponseWriter
	z *gzip.Writer
}

func (g gzipWriter) Write(p []byte) (int, error) { return g.z.Write(p) }

// AcceptsGzip reads an Accept-Encoding header: gzip listed, with a
// quality other than 0. The web listener's other answers use it too.
func AcceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(coding) != "gzip" {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err != nil || v > 0
	}
	return false
}

func (r *Recorder) successRatio() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.succeeded + r.failures; n > 0 {
		return r.succeeded / n
	}
	return math.NaN()
}

func (r *Recorder) predictionAccuracy() float64 {
	// internal/predict scores every recorded forecast against what
	// happened (docs/prediction.md); cmd/ passes its ratio as
	// Options.Accuracy. Before anything is scored it is unknown: NaN.
	if r.accuracy == nil {
		return math.NaN()
	}
	if v, ok := r.accuracy(); ok {
		return v
	}
	return math.NaN()
}

// Checked records a monitoring pass.
func (r *Recorder) Checked(at time.Time, took time.Duration, readings []detect.Reading, thresholds map[issue.Kind]float64) {
	r.detection.Observe(took.Seconds())
	r.lastCheck.Set(float64(at.UnixNano()) / 1e9)

	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(readings))
	haveLoad := false
	for _, rd := range readings {
		if rd.Kind == issue.Load {
			r.load.Set(rd.Value)
			haveLoad = true
			continue
		}
		r.usage.WithLabelValues(rd.ID).Set(rd.Value / 100)
		seen[rd.ID] = true
		if rd.Kind == issue.Disk && rd.Subject != "" {
			// Every watched mount has its freed-bytes series from the
			// start, at 0, so increase() answers 0 rather than nothing.
			r.freed.WithLabelValues(rd.Subject)
		}
	}
	forget(r.usage, r.resources, seen)
	r.resources = seen
	if !haveLoad && r.haveLoad {
		r.load.Set(math.NaN())
	}
	r.haveLoad = haveLoad

	for _, k := range thresholdKinds {
		if v := thresholds[k]; v > 0 {
			r.threshold.WithLabelValues(string(k)).Set(v / 100)
			r.thresholds[k] = true
		} else if r.thresholds[k] {
			r.threshold.DeleteLabelValues(string(k))
			delete(r.thresholds, k)
		}
	}
	r.loadThreshold.Set(thresholds[issue.Load])
}

// forget deletes the series of vec whose label value was in old but is
// not in now.
func forget(vec *prometheus.GaugeVec, old, now map[string]bool) {
	for id := range old {
		if !now[id] {
			vec.DeleteLabelValues(id)
		}
	}
}

// RestartedBySystemd counts restarts systemd did by itself.
func (r *Recorder) RestartedBySystemd(unit string, n int) {
	r.bySystemd.WithLabelValues(unit).Add(float64(n))
}

// Relapsed counts an issue that came back after a successful action.
func (r *Recorder) Relapsed(kind issue.Kind, held bool) {
	r.relapses.WithLabelValues(string(kind), strconv.FormatBool(held)).Inc()
}

// IssueDetected counts a new issue.
func (r *Recorder) IssueDetected(rec issue.Record) {
	r.detected.WithLabelValues(string(rec.Kind)).Inc()
}

// IssueResolved records how long an issue was open.
func (r *Recorder) IssueResolved(rec issue.Record, open time.Duration) {
	r.resolution.Observe(open.Seconds())
}

// ProbeDone records one health probe's duration, and its failure
// (engine.ProbeRecorder). Its failure series exists from its first run.
func (r *Recorder) ProbeDone(res probe.Result) {
	r.probeDuration.WithLabelValues(res.Unit, string(res.Type)).Observe(res.Duration.Seconds())
	c := r.probeFailures.WithLabelValues(res.Unit, string(res.Type))
	if !res.OK {
		c.Inc()
	}
}

// ActionDone counts an action by outcome, and for the healing actions that
// ran, their success or failure, duration and the bytes cleanup freed.
func (r *Recorder) ActionDone(res heal.Result) {
	act := res.Action
	known := false
	for _, a := range allActions {
		known = known || a == act
	}
	if !known {
		return // keeps the action label bounded whatever heal grows
	}
	r.actions.WithLabelValues(string(act), string(res.Outcome)).Inc()
	if res.Outcome != heal.Succeeded && res.Outcome != heal.Failed {
		return
	}
	r.actionDuration.WithLabelValues(string(act)).Observe(res.Duration.Seconds())
	if !res.DryRun {
		// The mounts are the watched ones and those a cleanup unit
		// reported: a handful, so the label stays bounded.
		for m, b := range res.FreedByMount {
			if b > 0 {
				r.freed.WithLabelValues(m).Add(float64(b))
			}
		}
	}
	if act == heal.Release {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.Outcome == heal.Succeeded {
		r.resolved.WithLabelValues(string(act)).Inc()
		r.succeeded++
	} else {
		r.failed.WithLabelValues(string(act)).Inc()
		r.failures++
	}
}

// Forecasts replaces the time-to-threshold gauges.
func (r *Recorder) Forecasts(fs []predict.Forecast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		r.timeTo.WithLabelValues(f.Series).Set(f.TimeToThreshold.Seconds())
		seen[f.Series] = true
	}
	forget(r.timeTo, r.forecasts, seen)
	r.forecasts = seen
}

// State records the settings, the open issues and the breakers.
func (r *Recorder) State(dryRun, healingEnabled bool, interval time.Duration, issues []issue.Record, breakers []heal.BreakerState) {
	r.dryRun.Set(b2f(dryRun))
	r.enabled.Set(b2f(healingEnabled))
	r.interval.Set(interval.Seconds())
	var warn, crit, silenced float64
	for _, rec := range issues {
		if rec.Silence != "" {
			silenced++
		}
		switch rec.Severity {
		case issue.Warning:
			warn++
		case issue.Critical:
			crit++
		}
	}
	r.active.WithLabelValues(issue.Warning.String()).Set(warn)
	r.active.WithLabelValues(issue.Critical.String()).Set(crit)
	r.silenced.Set(silenced)

	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(breakers))
	for _, b := range breakers {
		r.breaker.WithLabelValues(b.IssueID).Set(b2f(b.GivenUp))
		seen[b.IssueID] = true
	}
	forget(r.breaker, r.breakers, seen)
	r.breakers = seen
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
