package metrics_test

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

var thresholds = map[issue.Kind]float64{issue.CPU: 80, issue.Memory: 85, issue.Disk: 90, issue.Load: 3}

var readings = []detect.Reading{
	{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 12.5},
	{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 50},
	{ID: "load", Kind: issue.Load, Subject: "load", Value: 0.75},
	{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: 91},
	{ID: "inodes:/", Kind: issue.Disk, Subject: "/", Value: 3},
}

// busy drives a Recorder through every method, as a day of the daemon would.
func busy(r *metrics.Recorder) {
	r.Checked(time.Unix(1700000000, 500e6), 12*time.Microsecond, readings, thresholds)
	r.IssueDetected(issue.Record{ID: "disk:/", Kind: issue.Disk})
	r.IssueDetected(issue.Record{ID: "unit:nginx.service", Kind: issue.Unit})
	r.ActionDone(heal.Result{Action: issue.Cleanup, Outcome: heal.Succeeded, Duration: 2 * time.Second, FreedBytes: 1<<30 + 1<<20,
		FreedByMount: map[string]uint64{"/nix": 1 << 30, "/boot": 1 << 20}})
	r.ActionDone(heal.Result{Action: issue.Cleanup, Outcome: heal.Planned, DryRun: true, FreedByMount: map[string]uint64{"/nix": 7}})
	r.ActionDone(heal.Result{Action: issue.Restart, Outcome: heal.Failed, Duration: 300 * time.Millisecond})
	r.ActionDone(heal.Result{Action: issue.Restart, Outcome: heal.Succeeded, Duration: 200 * time.Millisecond})
	r.ActionDone(heal.Result{Action: issue.Restart, Outcome: heal.Succeeded, Duration: 100 * time.Millisecond})
	r.ActionDone(heal.Result{Action: issue.Throttle, Outcome: heal.Planned, DryRun: true})
	r.ActionDone(heal.Result{Action: issue.Restart, Outcome: heal.Refused, Err: heal.ErrBackoff})
	r.ActionDone(heal.Result{Action: heal.Release, Outcome: heal.Succeeded, Duration: time.Millisecond})
	r.IssueResolved(issue.Record{ID: "disk:/", Kind: issue.Disk}, 90*time.Second)
	r.RestartedBySystemd("nginx.service", 2)
	r.RestartedBySystemd("nginx.service", 1)
	r.Relapsed(issue.Unit, true)
	r.Relapsed(issue.Unit, true)
	r.Relapsed(issue.Unit, false)
	r.Forecasts([]predict.Forecast{{Series: "disk:/", Kind: issue.Disk, Subject: "/", TimeToThreshold: 2 * time.Hour}})
	r.State(true, true, time.Minute,
		[]issue.Record{{ID: "unit:nginx.service", Severity: issue.Critical}, {ID: "memory", Severity: issue.Warning}},
		[]heal.BreakerState{{IssueID: "unit:nginx.service", Failures: 5, GivenUp: true}, {IssueID: "unit:db.service", Failures: 1}})
}

func TestRecorderReportsWhatHappened(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "1.2.3"})
	busy(r)
	cases := []struct {
		name, metric, want string
	}{
		{"relapses are counted by whether the last healing held", "healing_relapses_total", `
# HELP healing_relapses_total Issues that came back after a successful action, by kind and whether that action had held for healing.stable_after (held="true": a new incident, healed at once) or not (a failed attempt for the breaker).
# TYPE healing_relapses_total counter
healing_relapses_total{held="false",kind="unit"} 1
healing_relapses_total{held="true",kind="unit"} 2
`},
		{"issues are counted by kind, every kind from zero", "healing_issues_detected_total", `
# HELP healing_issues_detected_total Issues opened, by kind (injected synthetic issues included).
# TYPE healing_issues_detected_total counter
healing_issues_detected_total{kind="cpu"} 0
healing_issues_detected_total{kind="disk"} 1
healing_issues_detected_total{kind="load"} 0
healing_issues_detected_total{kind="memory"} 0
healing_issues_detected_total{kind="pressure"} 0
healing_issues_detected_total{kind="probe"} 0
healing_issues_detected_total{kind="unit"} 1
`},
		{"healing actions that worked count as resolved, release does not", "healing_issues_resolved_total", `
# HELP healing_issues_resolved_total Healing actions that ran and succeeded, by action.
# TYPE healing_issues_resolved_total counter
healing_issues_resolved_total{action="cleanup"} 1
healing_issues_resolved_total{action="reload"} 0
healing_issues_resolved_total{action="restart"} 2
healing_issues_resolved_total{action="throttle"} 0
`},
		{"failed actions count as failed; planned and refused do not", "healing_issues_failed_total", `
# HELP healing_issues_failed_total Healing actions that ran and failed, by action.
# TYPE healing_issues_failed_total counter
healing_issues_failed_total{action="cleanup"} 0
healing_issues_failed_total{action="reload"} 0
healing_issues_failed_total{action="restart"} 1
healing_issues_failed_total{action="throttle"} 0
`},
		{"percent series are ratios and load stays out of them", "healing_resource_usage_ratio", `
# HELP healing_resource_usage_ratio Latest reading of each percentage series (cpu, memory, disk:MOUNT, inodes:MOUNT, pressure:RESOURCE) as a ratio 0–1.
# TYPE healing_resource_usage_ratio gauge
healing_resource_usage_ratio{resource="cpu"} 0.125
healing_resource_usage_ratio{resource="disk:/"} 0.91
healing_resource_usage_ratio{resource="inodes:/"} 0.03
healing_resource_usage_ratio{resource="memory"} 0.5
`},
		{"the load average is its own gauge", "healing_load_average", `
# HELP healing_load_average Latest 1-minute load average (not a ratio, so not in healing_resource_usage_ratio).
# TYPE healing_load_average gauge
healing_load_average 0.75
`},
		{"thresholds that are off are absent", "healing_threshold_ratio", `
# HELP healing_threshold_ratio Threshold in force for each percentage kind, as a ratio 0–1; absent when off.
# TYPE healing_threshold_ratio gauge
healing_threshold_ratio{kind="cpu"} 0.8
healing_threshold_ratio{kind="disk"} 0.9
healing_threshold_ratio{kind="memory"} 0.85
`},
		{"a given-up breaker is open, a backing-off one is not", "healing_breaker_open", `
# HELP healing_breaker_open 1 when healing of an issue is given up (the breaker is open), 0 while it only backs off; absent when the breaker is idle.
# TYPE healing_breaker_open gauge
healing_breaker_open{issue="unit:db.service"} 0
healing_breaker_open{issue="unit:nginx.service"} 1
`},
		{"the last check is in seconds with a fraction", "healing_last_check_timestamp_seconds", `
# HELP healing_last_check_timestamp_seconds When the last monitoring pass sampled, in seconds since the epoch.
# TYPE healing_last_check_timestamp_seconds gauge
healing_last_check_timestamp_seconds 1.7000000005e+09
`},
		{"forecasts are in seconds", "healing_time_to_threshold_seconds", `
# HELP healing_time_to_threshold_seconds Predicted time until a resource series crosses its threshold; absent when no rising trend is forecast.
# TYPE healing_time_to_threshold_seconds gauge
healing_time_to_threshold_seconds{resource="disk:/"} 7200
`},
		{"cleanup's freed bytes add up per mount, dry-run's never; a watched mount starts at 0", "healing_cleanup_freed_bytes_total", `
# HELP healing_cleanup_freed_bytes_total Bytes freed by cleanup actions, per mount point.
# TYPE healing_cleanup_freed_bytes_total counter
healing_cleanup_freed_bytes_total{mount="/"} 0
healing_cleanup_freed_bytes_total{mount="/boot"} 1.048576e+06
healing_cleanup_freed_bytes_total{mount="/nix"} 1.073741824e+09
`},
		{"active issues are counted by severity", "healing_active_issues", `
# HELP healing_active_issues Issues open now, by severity.
# TYPE healing_active_issues gauge
healing_active_issues{severity="critical"} 1
healing_active_issues{severity="warning"} 1
`},
		{"the build's version is a label", "healing_build_info", `
# HELP healing_build_info Always 1; the version label says which build runs.
# TYPE healing_build_info gauge
healing_build_info{version="1.2.3"} 1
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := testutil.GatherAndCompare(gatherer(t, r), strings.NewReader(c.want), c.metric); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("the success ratio counts healing actions that ran", func(t *testing.T) {
		if got, want := gauge(t, r, "healing_success_ratio"), 3.0/4; got != want {
			t.Errorf("got %v; want %v", got, want)
		}
	})
	t.Run("dry-run is a 0/1 gauge", func(t *testing.T) {
		if got := gauge(t, r, "healing_dry_run"); got != 1 {
			t.Errorf("got %v; want 1", got)
		}
	})
	t.Run("every action and outcome is counted", func(t *testing.T) {
		if got := counterOf(t, r, "healing_actions_total", `action="throttle",outcome="planned"`); got != 1 {
			t.Errorf("planned throttles: got %v; want 1", got)
		}
	})
}

func TestRecorderStartsHonest(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "dev"})
	for _, name := range []string{"healing_success_ratio", "healing_prediction_accuracy_ratio"} {
		t.Run(name+" is NaN before there is anything to score", func(t *testing.T) {
			if got := gauge(t, r, name); !math.IsNaN(got) {
				t.Errorf("got %v; want NaN", got)
			}
		})
	}
	t.Run("an accuracy figure is reported once there is one", func(t *testing.T) {
		r := metrics.New(metrics.Options{Version: "dev", Accuracy: func() (float64, bool) { return 0.9, true }})
		if got := gauge(t, r, "healing_prediction_accuracy_ratio"); got != 0.9 {
			t.Errorf("got %v; want 0.9", got)
		}
	})
}

// The audit records a stalled journal did not get are counted where an
// alert can see them.
func TestAuditRecordsTheJournalDidNotGetAreCounted(t *testing.T) {
	if got := counterOf(t, metrics.New(metrics.Options{Version: "dev"}), "healing_audit_journal_dropped_total", ""); got != 0 {
		t.Errorf("without an audit log: got %v; want 0", got)
	}
	r := metrics.New(metrics.Options{Version: "dev", AuditDropped: func() uint64 { return 7 }})
	if got := counterOf(t, r, "healing_audit_journal_dropped_total", ""); got != 7 {
		t.Errorf("got %v; want 7", got)
	}
}

func TestSeriesThatGoAwayAreDropped(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "dev"})
	busy(r)
	// A reload stopped watching / and turned prediction off; the breakers
	// were reset.
	r.Checked(time.Now(), time.Microsecond, readings[:3], map[issue.Kind]float64{issue.CPU: 80})
	r.Forecasts(nil)
	r.State(false, true, time.Minute, nil, nil)
	for _, name := range []string{"healing_time_to_threshold_seconds", "healing_breaker_open"} {
		if n := count(t, r, name); n != 0 {
			t.Errorf("%s: got %d series; want none", name, n)
		}
	}
	if n := count(t, r, "healing_resource_usage_ratio"); n != 2 {
		t.Errorf("healing_resource_usage_ratio: got %d series; want 2 (cpu, memory)", n)
	}
	if n := count(t, r, "healing_threshold_ratio"); n != 1 {
		t.Errorf("healing_threshold_ratio: got %d series; want 1 (cpu)", n)
	}
}

func TestMetricsFollowPrometheusConventions(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "dev"})
	busy(r)
	problems, err := testutil.GatherAndLint(gatherer(t, r))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestScrapePassesPromtool(t *testing.T) {
	promtool := testbed.NeedTool(t, "promtool", "prometheus")
	r := metrics.New(metrics.Options{Version: "dev"})
	busy(r)
	body := scrape(t, r.Handler())
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes", "healing_detection_duration_seconds_bucket"} {
		if !strings.Contains(body, family) {
			t.Errorf("the scrape has no %s", family)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func scrape(t testing.TB, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d; want 200", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func gauge(t *testing.T, r *metrics.Recorder, name string) float64 {
	t.Helper()
	mfs, err := gatherer(t, r).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single-series gauge %s", name)
	return 0
}

// counterOf finds one series of a counter family by its labels as text.
func counterOf(t *testing.T, r *metrics.Recorder, name, labels string) float64 {
	t.Helper()
	mfs, err := gatherer(t, r).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if strings.Join(parts, ",") == labels {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s}", name, labels)
	return 0
}

func TestProbeMetrics(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "test"})
	r.ProbeDone(probe.Result{Unit: "web.service", Type: probe.HTTP, OK: true, Duration: 2 * time.Millisecond})
	r.ProbeDone(probe.Result{Unit: "web.service", Type: probe.HTTP, Duration: 5 * time.Second})
	r.ProbeDone(probe.Result{Unit: "db.service", Type: probe.TCP, OK: true, Duration: time.Millisecond})
	want := `# HELP healing_probe_failures_total Health probes that failed, by unit and probe type, counted whether or not they made an issue.
# TYPE healing_probe_failures_total counter
healing_probe_failures_total{type="http",unit="web.service"} 1
healing_probe_failures_total{type="tcp",unit="db.service"} 0
`
	if err := testutil.GatherAndCompare(gatherer(t, r), strings.NewReader(want), "healing_probe_failures_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(gatherer(t, r), "healing_probe_duration_seconds"); err != nil || n != 2 {
		t.Errorf("%d duration series (%v), want 2", n, err)
	}
}
