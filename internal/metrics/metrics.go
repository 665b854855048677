// Package metrics exports the daemon's measurements in the Prometheus format
// (SPEC §8): it implements the engine's Recorder and serves /metrics in the
// text format, the Go runtime's and the process's figures beside the
// daemon's own metrics. docs/metrics.md lists every metric.
//
// It is an adapter: it imports the shared leaf packages (issue, detect, heal,
// predict) and nothing above them. Only cmd/ wires it into the engine; the
// HTTP listener (internal/web) serves its Handler.
package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// families are every family the daemon's own metrics write, in
	// name order.
	families []*family
	started  float64 // process_start_time_seconds

	detected       *family
	resolved       *family
	failed         *family
	actions        *family
	lastCheck      *family
	detection      *family
	resolution     *family
	actionDuration *family
	timeTo         *family
	usage          *family
	load           *family
	threshold      *family
	loadThreshold  *family
	freed          *family
	breaker        *family
	dryRun         *family
	enabled        *family
	interval       *family
	active         *family
	bySystemd      *family
	relapses       *family
	silenced       *family
	probeDuration  *family
	probeFailures  *family

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

// New returns a Recorder with every metric defined.
func New(o Options) *Recorder {
	r := &Recorder{
		accuracy:   o.Accuracy,
		resources:  map[string]bool{},
		forecasts:  map[string]bool{},
		breakers:   map[string]bool{},
		thresholds: map[issue.Kind]bool{},
		started:    startTime(),
	}
	r.detected = newFamily(counterKind, "healing_issues_detected_total",
		"Issues opened, by kind (injected synthetic issues included).", "kind")
	r.resolved = newFamily(counterKind, "healing_issues_resolved_total",
		"Healing actions that ran and succeeded, by action.", "action")
	r.failed = newFamily(counterKind, "healing_issues_failed_total",
		"Healing actions that ran and failed, by action.", "action")
	r.actions = newFamily(counterKind, "healing_actions_total",
		"Actions by action and outcome: succeeded, failed, planned (dry-run) or refused (a safety rule).", "action", "outcome")
	r.lastCheck = newFamily(gaugeKind, "healing_last_check_timestamp_seconds",
		"When the last monitoring pass sampled, in seconds since the epoch.")
	successRatio := newFamily(gaugeKind, "healing_success_ratio",
		"Share of the healing actions run since the daemon started that succeeded; NaN before the first.")
	successRatio.fn = r.successRatio
	r.detection = newHistogram("healing_detection_duration_seconds",
		"Time one monitoring pass takes to sample every signal and evaluate the thresholds.",
		// A pass takes about 10 µs; the top buckets catch a stalled /proc or statfs.
		[]float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 25e-3, 0.1, 0.5, 2.5})
	r.resolution = newHistogram("healing_resolution_duration_seconds",
		"Time from an issue's detection to its resolution.",
		[]float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600})
	r.actionDuration = newHistogram("healing_action_duration_seconds",
		"Time an action that ran took, including waiting for systemd's job, by action.",
		[]float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 90}, "action")
	r.probeDuration = newHistogram("healing_probe_duration_seconds",
		"Time one health probe took, passed or failed, by unit and probe type (http, tcp, unix, command).",
		// A loopback connect takes well under a millisecond; a hung
		// server takes the probe's timeout (5 s by default).
		[]float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "unit", "type")
	r.probeFailures = newFamily(counterKind, "healing_probe_failures_total",
		"Health probes that failed, by unit and probe type, counted whether or not they made an issue.", "unit", "type")
	r.timeTo = newFamily(gaugeKind, "healing_time_to_threshold_seconds",
		"Predicted time until a resource series crosses its threshold; absent when no rising trend is forecast.", "resource")
	r.usage = newFamily(gaugeKind, "healing_resource_usage_ratio",
		"Latest reading of each percentage series (cpu, memory, disk:MOUNT, inodes:MOUNT, pressure:RESOURCE) as a ratio 0–1.", "resource")
	r.load = newFamily(gaugeKind, "healing_load_average",
		"Latest 1-minute load average (not a ratio, so not in healing_resource_usage_ratio).")
	r.threshold = newFamily(gaugeKind, "healing_threshold_ratio",
		"Threshold in force for each percentage kind, as a ratio 0–1; absent when off.", "kind")
	r.loadThreshold = newFamily(gaugeKind, "healing_load_average_threshold",
		"Load average threshold in force.")
	r.freed = newFamily(counterKind, "healing_cleanup_freed_bytes_total",
		"Bytes freed by cleanup actions, per mount point.", "mount")
	r.breaker = newFamily(gaugeKind, "healing_breaker_open",
		"1 when healing of an issue is given up (the breaker is open), 0 while it only backs off; absent when the breaker is idle.", "issue")
	r.dryRun = newFamily(gaugeKind, "healing_dry_run",
		"1 when actions are planned and recorded instead of executed.")
	r.enabled = newFamily(gaugeKind, "healing_enabled",
		"1 when automatic healing is on.")
	r.interval = newFamily(gaugeKind, "healing_check_interval_seconds",
		"Time between monitoring passes (monitoring.interval), for alerts on checks that stop.")
	r.active = newFamily(gaugeKind, "healing_active_issues",
		"Issues open now, by severity.", "severity")
	r.bySystemd = newFamily(counterKind, "healing_unit_restarts_by_systemd_total",
		"Restarts systemd did by itself (Restart=) of a monitored unit, seen from its NRestarts; the daemon did not act.", "unit")
	r.relapses = newFamily(counterKind, "healing_relapses_total",
		"Issues that came back after a successful action, by kind and whether that action had held for healing.stable_after (held=\"true\": a new incident, healed at once) or not (a failed attempt for the breaker).", "kind", "held")
	r.silenced = newFamily(gaugeKind, "healing_issues_silenced",
		"Issues open now that a silence or maintenance window covers: detected and counted as any other, not healed automatically.")
	accuracy := newFamily(gaugeKind, "healing_prediction_accuracy_ratio",
		"Share of scored forecasts that came true; NaN until forecasts have been scored.")
	accuracy.fn = r.predictionAccuracy
	dropped := newFamily(counterKind, "healing_audit_journal_dropped_total",
		"Audit records not sent to the journal because it did not keep up; each is in the history, and the journal says how many where they were.")
	dropped.fn = func() float64 {
		if o.AuditDropped == nil {
			return 0
		}
		return float64(o.AuditDropped())
	}
	build := newFamily(gaugeKind, "healing_build_info",
		"Always 1; the version label says which build runs.")
	var vb bytes.Buffer
	writeEscaped(&vb, o.Version, true)
	build.constant = `version="` + vb.String() + `"`
	build.set(1)

	r.families = []*family{
		r.detected, r.resolved, r.failed, r.actions, r.lastCheck, successRatio,
		r.detection, r.resolution, r.actionDuration, accuracy, r.timeTo, r.usage,
		r.load, r.threshold, r.loadThreshold, r.freed, r.breaker, r.dryRun,
		r.enabled, r.interval, r.active, r.bySystemd, r.relapses, r.silenced, build,
		r.probeDuration, r.probeFailures, dropped,
	}
	slices.SortFunc(r.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })

	// Every series with a known, bounded label set exists from the start,
	// so that rate() and absent() see a zero rather than nothing; the
	// unlabelled ones too, as Prometheus's client had them.
	for _, f := range []*family{r.lastCheck, r.detection, r.resolution, r.load, r.loadThreshold, r.dryRun, r.enabled, r.interval, r.silenced} {
		f.with()
	}
	for _, k := range issue.Kinds {
		r.detected.with(string(k))
	}
	for _, a := range healingActions {
		r.resolved.with(string(a))
		r.failed.with(string(a))
	}
	for _, a := range allActions {
		for _, o := range outcomes {
			r.actions.with(string(a), string(o))
		}
	}
	for _, s := range []issue.Severity{issue.Warning, issue.Critical} {
		r.active.with(s.String())
	}
	return r
}

// Handler serves the metrics in the Prometheus text format, gzipped when
// the scraper accepts it, at most four scrapes at a time (more get 503, as
// Prometheus's client answered).
func (r *Recorder) Handler() http.Handler {
	inflight := make(chan struct{}, 4)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case inflight <- struct{}{}:
			defer func() { <-inflight }()
		default:
			http.Error(w, "Limit of concurrent requests reached (4), try again later.", http.StatusServiceUnavailable)
			return
		}
		b := buffers.Get().(*bytes.Buffer)
		defer buffers.Put(b)
		b.Reset()
		r.WriteTo(b)
		h := w.Header()
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.Add("Vary", "Accept-Encoding")
		if !acceptsGzip(req.Header.Get("Accept-Encoding")) {
			h.Set("Content-Length", strconv.Itoa(b.Len()))
			w.Write(b.Bytes())
			return
		}
		h.Set("Content-Encoding", "gzip")
		z := gzips.Get().(*gzip.Writer)
		defer gzips.Put(z)
		z.Reset(w)
		z.Write(b.Bytes())
		z.Close()
	})
}

var (
	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzips   = sync.Pool{New: func() any {
		z, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		return z
	}}
)

// acceptsGzip reads an Accept-Encoding header: gzip listed, with a
// quality other than 0.
func acceptsGzip(header string) bool {
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

// WriteTo writes every metric in the text format, families in name order:
// go_, then healing_, then process_.
func (r *Recorder) WriteTo(b *bytes.Buffer) {
	writeGo(b)
	for _, f := range r.families {
		f.write(b)
	}
	writeProcess(b, r.started)
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
	r.detection.observe(took.Seconds())
	r.lastCheck.set(float64(at.UnixNano()) / 1e9)

	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(readings))
	haveLoad := false
	for _, rd := range readings {
		if rd.Kind == issue.Load {
			r.load.set(rd.Value)
			haveLoad = true
			continue
		}
		r.usage.set(rd.Value/100, rd.ID)
		seen[rd.ID] = true
		if rd.Kind == issue.Disk && rd.Subject != "" {
			// Every watched mount has its freed-bytes series from the
			// start, at 0, so increase() answers 0 rather than nothing.
			r.freed.with(rd.Subject)
		}
	}
	forget(r.usage, r.resources, seen)
	r.resources = seen
	if !haveLoad && r.haveLoad {
		r.load.set(math.NaN())
	}
	r.haveLoad = haveLoad

	for _, k := range thresholdKinds {
		if v := thresholds[k]; v > 0 {
			r.threshold.set(v/100, string(k))
			r.thresholds[k] = true
		} else if r.thresholds[k] {
			r.threshold.remove(string(k))
			delete(r.thresholds, k)
		}
	}
	r.loadThreshold.set(thresholds[issue.Load])
}

// forget deletes the series of vec whose label value was in old but is
// not in now.
func forget(vec *family, old, now map[string]bool) {
	for id := range old {
		if !now[id] {
			vec.remove(id)
		}
	}
}

// RestartedBySystemd counts restarts systemd did by itself.
func (r *Recorder) RestartedBySystemd(unit string, n int) {
	r.bySystemd.add(float64(n), unit)
}

// Relapsed counts an issue that came back after a successful action.
func (r *Recorder) Relapsed(kind issue.Kind, held bool) {
	r.relapses.add(1, string(kind), strconv.FormatBool(held))
}

// IssueDetected counts a new issue.
func (r *Recorder) IssueDetected(rec issue.Record) {
	r.detected.add(1, string(rec.Kind))
}

// IssueResolved records how long an issue was open.
func (r *Recorder) IssueResolved(rec issue.Record, open time.Duration) {
	r.resolution.observe(open.Seconds())
}

// ProbeDone records one health probe's duration, and its failure
// (engine.ProbeRecorder). Its failure series exists from its first run.
func (r *Recorder) ProbeDone(res probe.Result) {
	r.probeDuration.observe(res.Duration.Seconds(), res.Unit, string(res.Type))
	r.probeFailures.add(b2f(!res.OK), res.Unit, string(res.Type))
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
	r.actions.add(1, string(act), string(res.Outcome))
	if res.Outcome != heal.Succeeded && res.Outcome != heal.Failed {
		return
	}
	r.actionDuration.observe(res.Duration.Seconds(), string(act))
	if !res.DryRun {
		// The mounts are the watched ones and those a cleanup unit
		// reported: a handful, so the label stays bounded.
		for m, b := range res.FreedByMount {
			if b > 0 {
				r.freed.add(float64(b), m)
			}
		}
	}
	if act == heal.Release {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.Outcome == heal.Succeeded {
		r.resolved.add(1, string(act))
		r.succeeded++
	} else {
		r.failed.add(1, string(act))
		r.failures++
	}
}

// Forecasts replaces the time-to-threshold gauges.
func (r *Recorder) Forecasts(fs []predict.Forecast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		r.timeTo.set(f.TimeToThreshold.Seconds(), f.Series)
		seen[f.Series] = true
	}
	forget(r.timeTo, r.forecasts, seen)
	r.forecasts = seen
}

// State records the settings, the open issues and the breakers.
func (r *Recorder) State(dryRun, healingEnabled bool, interval time.Duration, issues []issue.Record, breakers []heal.BreakerState) {
	r.dryRun.set(b2f(dryRun))
	r.enabled.set(b2f(healingEnabled))
	r.interval.set(interval.Seconds())
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
	r.active.set(warn, issue.Warning.String())
	r.active.set(crit, issue.Critical.String())
	r.silenced.set(silenced)

	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(breakers))
	for _, b := range breakers {
		r.breaker.set(b2f(b.GivenUp), b.IssueID)
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
