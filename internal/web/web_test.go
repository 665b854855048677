package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/web"
)

func TestRoutes(t *testing.T) {
	d := startDaemon(t, "")
	cases := []struct {
		name, method, path string
		hdr                []string
		code               int
		ctype              string // prefix
		body               string // substring
	}{
		{"the dashboard page is served at /", "GET", "/", nil, 200, "text/html", "<title>luminous-healing</title>"},
		{"HEAD answers like GET without a body", "HEAD", "/", nil, 200, "text/html", ""},
		{"the dashboard's script is served", "GET", "/assets/app.js", nil, 200, "text/javascript", "EventSource"},
		{"an unknown asset is not found", "GET", "/assets/nope.js", nil, 404, "", ""},
		{"metrics are served", "GET", "/metrics", nil, 200, "text/plain", "healing_build_info{version=\"test\"} 1"},
		{"healthz says ok while checks run", "GET", "/healthz", nil, 200, "text/plain", "ok"},
		{"status is JSON", "GET", "/api/v1/status", nil, 200, "application/json", `"health":"ok"`},
		{"issues are JSON", "GET", "/api/v1/issues", nil, 200, "application/json", "[]"},
		{"predictions are JSON", "GET", "/api/v1/predictions", nil, 200, "application/json", `"series":"disk:/nix"`},
		{"history is JSON", "GET", "/api/v1/history?limit=5", nil, 200, "application/json", `"event":"daemon-started"`},
		{"a bad history limit is a 400 that says why", "GET", "/api/v1/history?limit=-1", nil, 400, "application/json", "limit must be a whole number"},
		{"POST is not allowed", "POST", "/api/v1/status", nil, 405, "", ""},
		{"PUT is not allowed", "PUT", "/metrics", nil, 405, "", ""},
		{"DELETE is not allowed", "DELETE", "/", nil, 405, "", ""},
		{"OPTIONS is not allowed", "OPTIONS", "/healthz", nil, 405, "", ""},
		{"POST to the event stream is not allowed", "POST", "/api/v1/events", nil, 405, "", ""},
		{"an unknown path is not found", "GET", "/nope", nil, 404, "", ""},
		{"an unknown path is not found whatever the method", "POST", "/nope", nil, 404, "", ""},
		{"the API has no index", "GET", "/api/v1/", nil, 404, "", ""},
		{"index.html has one name only", "GET", "/index.html", nil, 404, "", ""},
		{"a foreign Host is refused on loopback", "GET", "/api/v1/status", []string{"Host", "evil.example:9955"}, 421, "", "loopback host names only"},
		{"localhost is a loopback Host", "GET", "/healthz", []string{"Host", "localhost:9955"}, 200, "", "ok"},
		{"IPv6 loopback is a loopback Host", "GET", "/healthz", []string{"Host", "[::1]:9955"}, 200, "", "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := get(t, c.method, d.url+c.path, c.hdr...)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("%s %s: got %d; want %d (%s)", c.method, c.path, resp.StatusCode, c.code, body)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, c.ctype) {
				t.Errorf("Content-Type: got %q; want %q…", got, c.ctype)
			}
			if !strings.Contains(string(body), c.body) {
				t.Errorf("body: got %.300q; want it to contain %q", body, c.body)
			}
			if c.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD: got a %d-byte body; want none", len(body))
			}
			if c.code == 405 {
				if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow: got %q; want \"GET, HEAD\"", got)
				}
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q; want nosniff", got)
			}
		})
	}
}

func TestThePageForbidsInlineCodeAndFraming(t *testing.T) {
	d := startDaemon(t, "")
	resp := get(t, "GET", d.url+"/")
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
}

func TestAssetsAreGzippedAndRevalidated(t *testing.T) {
	d := startDaemon(t, "")
	resp := get(t, "GET", d.url+"/assets/app.js", "Accept-Encoding", "gzip")
	resp.Body.Close()
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding: got %q; want gzip", got)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp = get(t, "GET", d.url+"/assets/app.js", "If-None-Match", etag)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("with If-None-Match: got %d; want 304", resp.StatusCode)
	}
}

// TestThePageIsSmall checks the size budget: everything the page loads,
// as it crosses the wire, within 100 KB.
func TestThePageIsSmall(t *testing.T) {
	d := startDaemon(t, "")
	total := 0
	for _, p := range []string{"/", "/assets/app.js", "/assets/app.css", "/assets/icon.svg"} {
		req, _ := http.NewRequest("GET", d.url+p, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		total += int(n)
	}
	if total > 100_000 {
		t.Errorf("the page weighs %d bytes over the wire; want at most 100 KB", total)
	}
	t.Logf("the page weighs %d bytes over the wire, gzipped", total)
}

// The JSON keys are part of the interface: the same snake_case names as
// the D-Bus records.
func TestJSONKeys(t *testing.T) {
	d := startDaemon(t, "")
	block := make(chan struct{})
	d.sd.OnRestart = func(string) { <-block }
	defer close(block)
	if _, err := d.eng.InjectIssue(context.Background(), engine.Caller{Name: "test"},
		engine.Injection{Kind: issue.Unit, Subject: "web-test", Severity: issue.Critical}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a prediction", func() bool { return len(d.eng.Status().Forecasts) > 0 })

	keys := func(path string) []string {
		t.Helper()
		resp := get(t, "GET", d.url+path)
		defer resp.Body.Close()
		var v any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if l, ok := v.([]any); ok {
			if len(l) == 0 {
				t.Fatalf("%s: empty list", path)
			}
			v = l[0]
		}
		return slices.Sorted(maps.Keys(v.(map[string]any)))
	}
	cases := []struct {
		path string
		want string
	}{
		{"/api/v1/issues", "action attempts cause id kind message severity silence_effect silenced since state subject synthetic threshold value"},
		{"/api/v1/predictions", "confidence eta kind samples series subject threshold time_to_threshold_usec trend_per_hour value"},
		{"/api/v1/history", "action caller caller_uid dry_run duration_usec event freed_by_mount freed_bytes issue message outcome target time"},
		{"/api/v1/status", "active_issues active_silences breakers config_path dry_run healing_enabled health hostname interval_usec last_check mode monitored_units overrides predictions probes issues resources sample_error silences started systemd throttles units version"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			want := strings.Fields(c.want)
			slices.Sort(want)
			if got := keys(c.path); !slices.Equal(got, want) {
				t.Errorf("got keys %v; want %v", got, want)
			}
		})
	}
}

func TestStatusReportsEveryResourceAgainstItsThreshold(t *testing.T) {
	d := startDaemon(t, "")
	resp := get(t, "GET", d.url+"/api/v1/status")
	defer resp.Body.Close()
	var st struct {
		LastCheck *time.Time `json:"last_check"`
		Resources []struct {
			ID        string   `json:"id"`
			Threshold *float64 `json:"threshold"`
			Unit      string   `json:"unit"`
		} `json:"resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.LastCheck == nil || time.Since(*st.LastCheck) > time.Minute {
		t.Errorf("last_check: got %v; want a recent RFC 3339 time", st.LastCheck)
	}
	want := map[string]float64{"cpu": 80, "memory": 85, "load": 3, "disk:/": 90, "inodes:/": 90, "disk:/nix": 90}
	for _, r := range st.Resources {
		th, ok := want[r.ID]
		if !ok {
			t.Errorf("unexpected resource %q", r.ID)
			continue
		}
		delete(want, r.ID)
		if r.Threshold == nil || *r.Threshold != th {
			t.Errorf("%s: threshold got %v; want %v", r.ID, r.Threshold, th)
		}
		if wantUnit := map[bool]string{true: "", false: "%"}[r.ID == "load"]; r.Unit != wantUnit {
			t.Errorf("%s: unit got %q; want %q", r.ID, r.Unit, wantUnit)
		}
	}
	for id := range want {
		t.Errorf("resource %s is missing", id)
	}
}

// readSnapshot reads the event stream until a snapshot satisfies ok.
func readSnapshot(t *testing.T, sc *bufio.Scanner, ok func(snap map[string]any) bool) {
	t.Helper()
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "snapshot":
			var snap map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &snap); err != nil {
				t.Fatalf("a snapshot that is not JSON: %v", err)
			}
			if ok(snap) {
				return
			}
		}
	}
	t.Fatalf("the stream ended: %v", sc.Err())
}

func TestEventStreamFollowsTheDaemon(t *testing.T) {
	d := startDaemon(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", d.url+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Fatalf("Content-Type: got %q; want text/event-stream", got)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	issueIDs := func(snap map[string]any) []string {
		var ids []string
		for _, i := range snap["status"].(map[string]any)["issues"].([]any) {
			ids = append(ids, i.(map[string]any)["id"].(string))
		}
		return ids
	}
	t.Run("the first snapshot has every resource with its series", func(t *testing.T) {
		readSnapshot(t, sc, func(snap map[string]any) bool {
			series := snap["series"].(map[string]any)
			for _, r := range snap["status"].(map[string]any)["resources"].([]any) {
				id := r.(map[string]any)["id"].(string)
				if _, ok := series[id]; !ok {
					t.Errorf("no series for %s", id)
				}
			}
			if n := len(series["disk:/nix"].([]any)); n < 30 {
				t.Errorf("disk:/nix: got %d points; want the predictor's history (30 and more)", n)
			}
			return true
		})
	})
	block := make(chan struct{})
	d.sd.OnRestart = func(string) { <-block }
	if _, err := d.eng.InjectIssue(ctx, engine.Caller{Name: "test"},
		engine.Injection{Kind: issue.Unit, Subject: "web-test", Severity: issue.Critical}); err != nil {
		t.Fatal(err)
	}
	t.Run("an injected issue shows up", func(t *testing.T) {
		readSnapshot(t, sc, func(snap map[string]any) bool {
			return slices.Contains(issueIDs(snap), "unit:web-test.service")
		})
	})
	close(block)
	t.Run("and goes away once healed, with the action in the list", func(t *testing.T) {
		readSnapshot(t, sc, func(snap map[string]any) bool {
			if slices.Contains(issueIDs(snap), "unit:web-test.service") {
				return false
			}
			for _, a := range snap["actions"].([]any) {
				a := a.(map[string]any)
				if a["action"] == "restart" && a["target"] == "web-test.service" && a["outcome"] == "succeeded" {
					return true
				}
			}
			return false
		})
	})
}

func TestHEADOnTheEventStreamDoesNotHang(t *testing.T) {
	d := startDaemon(t, "")
	c := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("HEAD", d.url+"/api/v1/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("got %d; want 200", resp.StatusCode)
	}
}

func TestReloadAppliesTheListenerSettings(t *testing.T) {
	d := startDaemon(t, "")
	status := func(url string) int {
		resp := get(t, "GET", url)
		resp.Body.Close()
		return resp.StatusCode
	}
	d.reload(t, strings.Replace(baseConfig, "dashboard = true", "dashboard = false\nmetrics = false", 1))
	t.Run("dashboard = false turns off the page and its stream, not the API", func(t *testing.T) {
		for path, want := range map[string]int{"/": 404, "/assets/app.js": 404, "/api/v1/events": 404, "/api/v1/status": 200, "/healthz": 200} {
			if got := status(d.url + path); got != want {
				t.Errorf("GET %s: got %d; want %d", path, got, want)
			}
		}
	})
	t.Run("metrics = false turns off /metrics", func(t *testing.T) {
		if got := status(d.url + "/metrics"); got != 404 {
			t.Errorf("GET /metrics: got %d; want 404", got)
		}
	})
	t.Run("a new listen address rebinds", func(t *testing.T) {
		old := strings.TrimPrefix(d.url, "http://")
		d.reload(t, strings.Replace(baseConfig, `listen = "127.0.0.1:0"`, `listen = "127.0.0.2:0"`, 1))
		addr := waitAddr(t, d.srv, old)
		if !strings.HasPrefix(addr, "127.0.0.2:") {
			t.Fatalf("got %s; want 127.0.0.2:…", addr)
		}
		if got := status("http://" + addr + "/"); got != 200 {
			t.Errorf("GET / on the new address: got %d; want 200", got)
		}
		if _, err := http.Get(d.url + "/healthz"); err == nil {
			t.Errorf("the old address %s still answers", old)
		}
	})
	t.Run(`listen = "" turns the listener off`, func(t *testing.T) {
		d.reload(t, strings.Replace(baseConfig, `listen = "127.0.0.1:0"`, `listen = ""`, 1))
		waitFor(t, "the listener to stop", func() bool { return d.srv.Addr() == "" })
	})
}

// stalled is an engine whose loop does not answer.
type stalled struct{ web.Engine }

func (stalled) Alive(context.Context, time.Duration) bool { return false }

func TestHealthzFailsWhenTheEngineStalls(t *testing.T) {
	d := startDaemon(t, "")
	srv := web.New(web.Options{Engine: stalled{d.eng}, History: audit.New(audit.Options{})})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp := get(t, "GET", ts.URL+"/healthz")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "does not answer") {
		t.Errorf("got %d %q; want 503 saying the loop does not answer", resp.StatusCode, body)
	}
}
