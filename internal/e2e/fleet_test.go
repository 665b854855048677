package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// The fleet scenario: three machines, each a throwaway systemd with the
// installed daemon, scraped by one real Prometheus (Debian's prometheus)
// through file-based service discovery and evaluated with the shipped rules,
// alerts routed by a real Alertmanager (Debian's prometheus-alertmanager) to
// a webhook receiver in the test.
//
//   - fleet-a monitors lh-flaky, which fails until /run/lh-flaky-ok exists;
//     its breaker gives up fast (three attempts, backoff 200 ms).
//   - fleet-b checks every 15 s, not 1 s; it monitors lh-web, which is
//     killed once and healed; then its daemon is stopped, and its healing
//     turned off.
//   - fleet-c is in dry-run and watches a small file system being filled:
//     a forecast is recorded, the series crosses, the forecast is scored
//     (min_confidence 0.5, so that one is recorded well before the
//     crossing even on a loaded machine).
//
// Each daemon listens on its machine's loopback, as it does by default;
// Prometheus and Alertmanager run on the host's loopback and reach the
// daemons through testbed's Forward (a loopback port on the host whose
// connections are made from inside the machine's network namespace). No
// interface or address is added anywhere. Each target's instance label is
// set in the discovery file to "<machine>:9955", what a fleet's own
// host:port targets would give.
//
// The shipped rules are used as they are, except that every `for:` is
// rewritten to fleetFor so the scenario fits in a couple of minutes.
const (
	fleetFor      = 5 * time.Second
	fleetInterval = time.Second // scrape and evaluation
	// fleetRateInterval stands for Grafana's $__rate_interval: with a 1 s
	// scrape Grafana would use 4 s; a little more keeps every window
	// holding several samples on a loaded machine.
	fleetRateInterval = "10s"
	fleetIssue        = "unit:lh-flaky.service"
	// fleetThresholds keep the host's own CPU and load out of the
	// scenario: the machines share the host's kernel, whose load on a busy
	// CI runner would open critical issues, and alerts, on every machine.
	fleetThresholds = "[thresholds]\ncpu = 100.0\nmemory = 99.0\nload_average = 10000.0\n"
)

func TestAFleetIsScrapedAlertedAndCharted(t *testing.T) {
	// Machines first: without root the test skips there, before any tool
	// is looked for.
	a := bootInstalled(t, boot{
		name: "fleet-a",
		config: fleetThresholds + `
[monitoring]
interval = "1s"
[healing]
backoff = "200ms"
backoff_max = "500ms"
max_attempts = 3
attempt_window = "10m"
[services]
monitored = ["lh-flaky"]
`,
		units: map[string]testbed.File{
			// Fails 0.3 s after every start until the test makes it healthy.
			"lh-flaky.service": unitFile("/bin/sh -c 'test -e /run/lh-flaky-ok || { sleep 0.3; exit 3; }; exec sleep infinity'", "StartLimitIntervalSec=0"),
		},
	})
	prometheus := testbed.NeedTool(t, "prometheus", "prometheus")
	alertmanager := testbed.NeedTool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	b := bootInstalled(t, boot{
		name: "fleet-b",
		// A slower interval than the others, as a mixed fleet has: the
		// overview must show the machine whose last check is oldest.
		config: fleetThresholds + `
[monitoring]
interval = "15s"
[services]
monitored = ["lh-web"]
`,
		units: map[string]testbed.File{"lh-web.service": unitFile("/bin/sleep infinity")},
		start: []string{"lh-web.service"},
	})
	c := bootInstalled(t, fillingMachine())
	machines := []*machine{a, b, c}
	instance := func(m *machine) string { return m.Name() + ":9955" }

	// The monitoring side, all on the host's loopback.
	dir := t.TempDir()
	hook := newWebhook(t)
	amAddr, promAddr := freePort(t), freePort(t)
	writeFile(t, filepath.Join(dir, "alertmanager.yml"), fmt.Sprintf(`route:
  receiver: test
  group_by: [alertname, instance, issue]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s/hook
        send_resolved: true
`, hook.url))
	rules := rulesWithFor(t, fleetFor)
	writeFile(t, filepath.Join(dir, "luminous-healing.rules.yml"), rules)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
rule_files: [luminous-healing.rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["%[2]s"]}]
scrape_configs:
  - job_name: luminous-healing
    file_sd_configs:
      - files: ["targets/*.json"]
`, fleetInterval, amAddr))
	var targets []map[string]any
	for _, m := range machines {
		targets = append(targets, map[string]any{
			"targets": []string{m.Forward(t, "127.0.0.1:9955")},
			"labels":  map[string]string{"instance": instance(m)},
		})
	}
	tj, _ := json.Marshal(targets)
	writeFile(t, filepath.Join(dir, "targets", "fleet.json"), string(tj))

	startServer(t, dir, "alertmanager", alertmanager,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=", // no peers, no gossip port
		"--log.level=warn")
	promStart := time.Now()
	startServer(t, dir, "prometheus", prometheus,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr,
		"--rules.alert.resend-delay=1s",
		"--log.level=warn")
	prom := &promAPI{t: t, base: "http://" + promAddr, logDir: dir, machines: machines}
	for _, u := range []string{"http://" + amAddr + "/-/ready", prom.base + "/-/ready"} {
		waitUntil(t, 60*time.Second, u+" to answer", prom.logs, func() bool {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	waitUntil(t, 60*time.Second, "Prometheus to scrape all three daemons", prom.logs, func() bool {
		up := prom.query(`up{job="luminous-healing"} == 1`)
		return len(up) == 3
	})
	if got := prom.labelValues("instance", "healing_build_info"); !slices.Equal(got, []string{"fleet-a:9955", "fleet-b:9955", "fleet-c:9955"}) {
		t.Errorf("the dashboard's Machine variable (label_values(healing_build_info, instance)) = %v; want the three machines", got)
	}

	// fleet-b: a unit killed once is healed.
	b.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	// fleet-a: a unit that keeps failing until its breaker gives up.
	t0 := time.Now()
	a.Run(t.Context(), "systemctl", "start", "lh-flaky.service")

	var pending, firing time.Time
	var firingAlert promAlert
	waitUntil(t, 60*time.Second, "HealingBreakerOpen firing for fleet-a", prom.logs, func() bool {
		for _, al := range prom.alerts() {
			if al.Labels["alertname"] != "HealingBreakerOpen" {
				continue
			}
			if al.Labels["instance"] != instance(a) || al.Labels["issue"] != fleetIssue {
				t.Fatalf("HealingBreakerOpen with labels %v; want instance %s, issue %s", al.Labels, instance(a), fleetIssue)
			}
			switch al.State {
			case "pending":
				if pending.IsZero() {
					pending = al.ActiveAt
				}
			case "firing":
				firing, firingAlert = time.Now(), al
				return true
			}
		}
		return false
	})
	if pending.IsZero() {
		t.Errorf("HealingBreakerOpen was never seen pending before firing (for: %s, polled every 100 ms)", fleetFor)
	}
	if !strings.Contains(firingAlert.Annotations["summary"], fleetIssue) || !strings.Contains(firingAlert.Annotations["description"], "healingctl reset "+fleetIssue) {
		t.Errorf("the firing alert's annotations %v do not name the issue and the command that re-arms it", firingAlert.Annotations)
	}
	delivered := hook.waitAlert(t, 30*time.Second, "HealingBreakerOpen", "firing", instance(a))

	// Timings from systemd's and the daemon's own records.
	failedAt := a.journal("lh-flaky.service", t0, messageHas("Failed with result"))
	opened := a.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.BreakerOpened]))
	if len(failedAt) == 0 {
		t.Fatalf("the journal has no failure of lh-flaky\n%s", a.daemonLog())
	}
	failure := at(failedAt[0])

	// A healed machine raises nothing that fires.
	for _, f := range hook.firedFor(instance(b)) {
		t.Errorf("fleet-b, whose unit was healed at once, had an alert delivered: %s", f)
	}
	// A daemon that stops answering: HealingDaemonDown names its machine.
	stopped := time.Now()
	b.MustRun(t, "systemctl", "kill", "--signal=STOP", "luminous-healing.service")
	down := hook.waitAlert(t, 30*time.Second, "HealingDaemonDown", "firing", instance(b))
	b.MustRun(t, "systemctl", "kill", "--signal=CONT", "luminous-healing.service")

	// The other panels need the scenario's other events: fleet-b's heal
	// (time to resolve) and fleet-c's scored forecast (accuracy).
	waitUntil(t, 90*time.Second, "fleet-c's forecast to be scored", prom.logs, func() bool {
		return len(prom.query(`healing_prediction_accuracy_ratio{instance="fleet-c:9955"} >= 0`)) == 1
	})
	waitUntil(t, 30*time.Second, "fleet-b's heal to be scraped", prom.logs, func() bool {
		return len(prom.query(`healing_issues_resolved_total{instance="fleet-b:9955",action="restart"} > 0`)) == 1
	})
	time.Sleep(2 * fleetInterval) // one more scrape of each
	empty := checkPanels(t, prom, promStart, time.Now())

	// With every machine selected, the overview's stats must show the
	// machine that needs a look, as Health shows the worst severity: the
	// oldest last check (fleet-b's 15 s interval), and healing off
	// anywhere.
	lag := 0.0
	for _, s := range prom.queryRange(panelExpr(t, "Since last check"), promStart, time.Now()) {
		for _, v := range s.Values {
			if f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64); err == nil && f > lag {
				lag = f
			}
		}
	}
	if lag < 5 {
		t.Errorf("the Since last check panel peaked at %.1f s over the fleet; fleet-b checks every 15 s, so want it to show fleet-b's age (≥ 5 s at times)", lag)
	}
	if r := b.healingctl("", "--no-ask-password", "set", "healing", "off"); r.code != 0 {
		t.Fatalf("healingctl set healing off: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	waitUntil(t, 30*time.Second, "Prometheus to see healing off on fleet-b", prom.logs, func() bool {
		return len(prom.query(`healing_enabled{instance="fleet-b:9955"} == 0`)) == 1
	})
	if mode := prom.query(panelExpr(t, "Mode")); len(mode) != 1 || int(mode[0].value())&1 != 0 {
		t.Errorf("the Mode panel over the fleet = %v with healing off on fleet-b; want a value saying healing is off (0 or 2)", mode)
	}
	b.healingctl("", "--no-ask-password", "set", "healing", "on")

	// Series per host, as Prometheus counted them at the last scrape.
	series := map[string]int{}
	for _, s := range prom.query(`scrape_samples_scraped{job="luminous-healing"}`) {
		series[s.Metric["instance"]] = int(s.value())
	}

	// Repair, re-arm: the alert resolves and Alertmanager says so.
	a.MustRun(t, "touch", "/run/lh-flaky-ok")
	if r := a.healingctl("", "--no-ask-password", "reset", fleetIssue); r.code != 0 {
		t.Fatalf("healingctl reset %s: exit %d: %s%s", fleetIssue, r.code, r.stdout, r.stderr)
	}
	reset := time.Now()
	a.waitFor(30*time.Second, "lh-flaky to be active again", func() bool { return a.isActive("lh-flaky.service") })
	waitUntil(t, 60*time.Second, "HealingBreakerOpen to resolve", prom.logs, func() bool {
		return !slices.ContainsFunc(prom.alerts(), func(al promAlert) bool { return al.Labels["alertname"] == "HealingBreakerOpen" })
	})
	resolvedInProm := time.Now()
	resolved := hook.waitAlert(t, 30*time.Second, "HealingBreakerOpen", "resolved", instance(a))

	breaker := "?"
	if len(opened) > 0 {
		breaker = at(opened[0]).Sub(failure).Round(time.Millisecond).String()
	}
	report(t, "unit failure → breaker open %s → pending %s → firing %s → webhook %s; reset → resolved in Prometheus %s → webhook %s; "+
		"daemon SIGSTOPped → HealingDaemonDown at the webhook %s; series per host %v; panels empty: %d; oldest check over the fleet %.0f s; alerts delivered %v; every for: rewritten to %s",
		breaker, pending.Sub(failure).Round(time.Millisecond), firing.Sub(failure).Round(time.Millisecond),
		delivered.Sub(failure).Round(time.Millisecond), resolvedInProm.Sub(reset).Round(time.Millisecond),
		resolved.Sub(reset).Round(time.Millisecond), down.Sub(stopped).Round(time.Millisecond), series, empty, lag, hook.summary(), fleetFor)
}

// fillingMachine is fleet-c: dry-run, with a 32 MiB file system filled at
// 1 MiB/s (3.1 points a second) up to about 94 %, so the daemon records a
// forecast after ten samples or so, the series crosses 90 % some 29 s after
// the fill starts, and the forecast is scored rather than cleaned away.
func fillingMachine() boot {
	const (
		mount   = "/srv/lhfill"
		fsBytes = 32 << 20
		chunk   = 256 << 10
		chunks  = 120 // 30 MiB
	)
	fill := fmt.Sprintf(`#!/bin/bash
# Appends %[1]d bytes to %[2]s/fill every 250 ms, %[3]d times.
set -eu
start=$(date +%%s%%N)
for k in $(seq 1 %[3]d); do
	head -c %[1]d /dev/zero >> %[2]s/fill
	d=$((start + k*250000000 - $(date +%%s%%N)))
	if [ $d -gt 0 ]; then sleep "0.$(printf %%09d $d)"; fi
done
sleep infinity
`, chunk, mount, chunks)
	return boot{
		name: "fleet-c",
		config: fleetThresholds + `disk = 90.0
[monitoring]
interval = "1s"
mounts = ["` + mount + `"]
[healing]
dry_run = true
[predictive]
enabled = true
history_size = 20
horizon = "1m"
min_confidence = 0.5
`,
		units: map[string]testbed.File{
			"srv-lhfill.mount": {Data: []byte(fmt.Sprintf("[Mount]\nWhat=tmpfs\nWhere=%s\nType=tmpfs\nOptions=size=%d,mode=0755\n", mount, fsBytes)), Mode: 0o644},
			"lh-fill.service":  unitFile("/usr/local/bin/lh-fill"),
		},
		files: map[string]testbed.File{"/usr/local/bin/lh-fill": {Data: []byte(fill), Mode: 0o755}},
		start: []string{"srv-lhfill.mount", "lh-fill.service"},
	}
}

// rulesWithFor returns the shipped alerting rules with every `for:`
// duration replaced by d, and nothing else changed.
func rulesWithFor(t *testing.T, d time.Duration) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "prometheus", "luminous-healing.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	forLine := regexp.MustCompile(`(?m)^(\s+for:\s*)\S+\s*$`)
	n := len(forLine.FindAllIndex(data, -1))
	if n == 0 || n != strings.Count(string(data), "for:") {
		t.Fatalf("the shipped rules have %d `for:` lines this test can rewrite, %d mentions of for:", n, strings.Count(string(data), "for:"))
	}
	return forLine.ReplaceAllString(string(data), "${1}"+model(d))
}

// model writes d as a Prometheus duration.
func model(d time.Duration) string {
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}

// A panel's queries and what they returned over the scenario.
type panel struct {
	title string
	exprs []string
}

// dashboardPanels reads every panel's queries from the shipped dashboard.
func dashboardPanels(t *testing.T) []panel {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "grafana", "luminous-healing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var out []panel
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		pn := panel{title: p.Title}
		for _, tg := range p.Targets {
			pn.exprs = append(pn.exprs, tg.Expr)
		}
		out = append(out, pn)
	}
	return out
}

// panelExpr returns the first query of the dashboard's panel title, with
// the Machine variable set to all.
func panelExpr(t *testing.T, title string) string {
	t.Helper()
	for _, p := range dashboardPanels(t) {
		if p.title == title && len(p.exprs) > 0 {
			return strings.NewReplacer("$instance", ".*", "$__rate_interval", fleetRateInterval).Replace(p.exprs[0])
		}
	}
	t.Fatalf("the dashboard has no panel %q", title)
	return ""
}

// checkPanels runs every query of the dashboard over the scenario as
// Grafana does, a range query with the Machine variable set to all, and
// fails for each that returns no number (nothing, or only NaN). It returns
// how many were empty.
func checkPanels(t *testing.T, prom *promAPI, from, to time.Time) int {
	t.Helper()
	fill := strings.NewReplacer("$instance", ".*", "$__rate_interval", fleetRateInterval)
	empty := 0
	for _, p := range dashboardPanels(t) {
		for _, e := range p.exprs {
			q := fill.Replace(e)
			n := 0
			for _, s := range prom.queryRange(q, from, to) {
				for _, v := range s.Values {
					if f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64); err == nil && !math.IsNaN(f) {
						n++
					}
				}
			}
			if n == 0 {
				empty++
				t.Errorf("panel %q: %s returned no number over the scenario", p.title, q)
			}
		}
	}
	return empty
}

// promAPI is a client of Prometheus's HTTP API.
type promAPI struct {
	t        *testing.T
	base     string
	logDir   string
	machines []*machine
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

func (s promSample) value() float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return f
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

func (p *promAPI) get(path string, params url.Values, into any) {
	p.t.Helper()
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		p.t.Fatalf("GET %s: %v\n%s", path, err, p.logs())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "success" {
		p.t.Fatalf("GET %s?%s: %s: %v %s", path, params.Encode(), resp.Status, err, body)
	}
	if err := json.Unmarshal(env.Data, into); err != nil {
		p.t.Fatalf("GET %s: %v: %s", path, err, env.Data)
	}
}

func (p *promAPI) query(q string) []promSample {
	p.t.Helper()
	var r struct {
		Result []promSample `json:"result"`
	}
	p.get("/api/v1/query", url.Values{"query": {q}}, &r)
	return r.Result
}

func (p *promAPI) queryRange(q string, from, to time.Time) []promSample {
	p.t.Helper()
	var r struct {
		Result []promSample `json:"result"`
	}
	p.get("/api/v1/query_range", url.Values{
		"query": {q},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix()+1, 10)},
		"step":  {"1"},
	}, &r)
	return r.Result
}

func (p *promAPI) labelValues(label, match string) []string {
	p.t.Helper()
	var r []string
	p.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {match}}, &r)
	slices.Sort(r)
	return r
}

func (p *promAPI) alerts() []promAlert {
	p.t.Helper()
	var r struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get("/api/v1/alerts", nil, &r)
	return r.Alerts
}

// logs are the servers' and the daemons' logs and Prometheus's view of its
// targets, for failure messages.
func (p *promAPI) logs() string {
	var b strings.Builder
	for _, m := range p.machines {
		fmt.Fprintf(&b, "== %s: %s\n", m.Name(), m.daemonLog())
	}
	for _, name := range []string{"prometheus", "alertmanager"} {
		data, _ := os.ReadFile(filepath.Join(p.logDir, name+".log"))
		fmt.Fprintf(&b, "== %s log:\n%s\n", name, data)
	}
	if resp, err := http.Get(p.base + "/api/v1/targets"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "== targets:\n%s\n", body)
	}
	return b.String()
}

// webhook is Alertmanager's receiver: an HTTP server on the host's
// loopback that keeps every notification with the time it arrived.
type webhook struct {
	url string
	mu  sync.Mutex
	got []notification
}

type notification struct {
	at     time.Time
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if r.URL.Path != "/hook" || json.NewDecoder(r.Body).Decode(&n) != nil {
			http.Error(w, "bad notification", http.StatusBadRequest)
			return
		}
		n.at = time.Now()
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// waitAlert returns when the first notification with status saying that
// alert for instance (and, for HealingBreakerOpen, fleetIssue) arrived.
func (h *webhook) waitAlert(t *testing.T, d time.Duration, alert, status, instance string) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h.mu.Lock()
		for _, n := range h.got {
			for _, al := range n.Alerts {
				if al.Status == status && al.Labels["alertname"] == alert && al.Labels["instance"] == instance &&
					(alert != "HealingBreakerOpen" || al.Labels["issue"] == fleetIssue) {
					h.mu.Unlock()
					return n.at
				}
			}
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s for %s reached the webhook in %s; it got: %s", status, alert, instance, d, h.summary())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firedFor lists the alerts delivered as firing for instance.
func (h *webhook) firedFor(instance string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.got {
		for _, al := range n.Alerts {
			if al.Status == "firing" && al.Labels["instance"] == instance {
				out = append(out, fmt.Sprint(al.Labels))
			}
		}
	}
	return out
}

// summary lists the delivered alerts as name@instance(status).
func (h *webhook) summary() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.got {
		for _, al := range n.Alerts {
			s := fmt.Sprintf("%s@%s(%s)", al.Labels["alertname"], strings.TrimSuffix(al.Labels["instance"], ":9955"), al.Status)
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// startServer runs a host binary until the test ends, its output in
// dir/name.log.
func startServer(t *testing.T, dir, name, path string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		log.Close()
	})
}

// freePort returns a loopback address with a port nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond every 100 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, diag func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\n%s", d, what, diag())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSeriesPerHost measures what one host costs a Prometheus: the series
// the daemon exposes with five monitored units (one with a health probe)
// and three watched mounts, by family, for docs/fleet.md's formula. It checks that every label is
// one of the bounded ones and every value one the configuration or a fixed
// vocabulary explains, so that nothing grows with time or traffic.
func TestSeriesPerHost(t *testing.T) {
	const units, mounts = 5, 3
	files := map[string]testbed.File{}
	var monitored, start []string
	for i := 1; i <= units; i++ {
		name := fmt.Sprintf("lh-u%d", i)
		files[name+".service"] = unitFile("/bin/sleep infinity")
		monitored = append(monitored, `"`+name+`"`)
		start = append(start, name+".service")
	}
	watched := []string{`"/"`}
	for _, n := range []string{"a", "b"} {
		files["srv-"+n+".mount"] = testbed.File{Data: []byte("[Mount]\nWhat=tmpfs\nWhere=/srv/" + n + "\nType=tmpfs\nOptions=size=8m\n")}
		watched = append(watched, `"/srv/`+n+`"`)
		start = append([]string{"srv-" + n + ".mount"}, start...)
	}
	m := bootInstalled(t, boot{
		config: fleetThresholds + "[monitoring]\ninterval = \"1s\"\nmounts = [" + strings.Join(watched, ", ") +
			"]\n[services]\nmonitored = [" + strings.Join(monitored, ", ") + "]\n" +
			"[[probe]]\nunit = \"lh-u1\"\ntype = \"tcp\"\naddress = \"127.0.0.1:9955\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
		units: files,
		start: start,
	})
	var out string
	m.waitFor(10*time.Second, "/metrics to show every watched mount", func() bool {
		out, _ = m.run("curl", "-sSf", "http://127.0.0.1:9955/metrics")
		return strings.Contains(out, `healing_resource_usage_ratio{resource="inodes:/srv/b"}`) &&
			strings.Contains(out, `healing_probe_failures_total{type="tcp",unit="lh-u1.service"}`)
	})
	var kinds []string
	for _, k := range issue.Kinds {
		kinds = append(kinds, regexp.QuoteMeta(string(k)))
	}
	allowed := map[string]*regexp.Regexp{
		"kind":     regexp.MustCompile(`^(` + strings.Join(kinds, "|") + `)$`),
		"type":     regexp.MustCompile(`^(http|tcp|unix|command)$`),
		"action":   regexp.MustCompile(`^(restart|reload|cleanup|throttle|release)$`),
		"outcome":  regexp.MustCompile(`^(succeeded|failed|planned|refused)$`),
		"severity": regexp.MustCompile(`^(warning|critical)$`),
		"resource": regexp.MustCompile(`^(cpu|memory|load|pressure:(cpu|memory|io)|(disk|inodes):(/|/srv/a|/srv/b))$`),
		"issue":    regexp.MustCompile(`^(cpu|memory|load|pressure:(cpu|memory|io)|(disk|inodes):(/|/srv/a|/srv/b)|(unit|probe):lh-u[1-5]\.service)$`),
		"mount":    regexp.MustCompile(`^(/|/srv/a|/srv/b)$`),
		"unit":     regexp.MustCompile(`^lh-u[1-5]\.service$`),
		"held":     regexp.MustCompile(`^(true|false)$`),
		"version":  regexp.MustCompile(`.`),
		"le":       regexp.MustCompile(`.`),
		"quantile": regexp.MustCompile(`.`),
	}
	label := regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
	byPrefix, byName := map[string]int{}, map[string]int{}
	total := 0
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		total++
		name := line[:strings.IndexAny(line, "{ ")]
		byPrefix[name[:strings.Index(name, "_")]]++
		byName[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")]++
		if i := strings.IndexByte(line, '{'); i >= 0 {
			for _, kv := range label.FindAllStringSubmatch(line[i:strings.LastIndexByte(line, '}')+1], -1) {
				re, ok := allowed[kv[1]]
				if !ok || !re.MatchString(kv[2]) {
					t.Errorf("series %s has label %s=%q, which no bounded vocabulary or configured name explains", name, kv[1], kv[2])
				}
			}
		}
	}
	var families []string
	for n, c := range byName {
		if c > 1 && strings.HasPrefix(n, "healing_") {
			families = append(families, fmt.Sprintf("%s %d", n, c))
		}
	}
	slices.Sort(families)
	t.Logf("healing_ families with several series: %s", strings.Join(families, ", "))
	report(t, "%d series with %d monitored units (one probed) and %d mounts (healing_ %d, go_ %d, process_ %d), plus the 5 Prometheus adds per target; "+
		"curl -s 127.0.0.1:9955/metrics | grep -vc '^#'",
		total, units, mounts, byPrefix["healing"], byPrefix["go"], byPrefix["process"])
}
