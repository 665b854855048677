package e2e

import (
	"strings"
	"testing"
	"time"
)

const httpConfig = `
[monitoring]
interval = "1s"
dashboard = true
`

// TestTheInstalledDaemonServesItsHTTPListener checks the listener as the
// sandboxed unit runs it (IPAddressAllow=localhost, no capabilities), and
// that a reload moves it.
func TestTheInstalledDaemonServesItsHTTPListener(t *testing.T) {
	m := bootInstalled(t, boot{config: httpConfig})
	curl := func(args ...string) (string, error) {
		return m.run(append([]string{"curl", "-sS", "--max-time", "5"}, args...)...)
	}
	code := func(method, url string) string {
		out, _ := curl("-o", "/dev/null", "-w", "%{http_code}", "-X", method, url)
		return strings.TrimSpace(out)
	}
	m.waitFor(10*time.Second, "/healthz to answer ok", func() bool {
		out, err := curl("-f", "http://127.0.0.1:9955/healthz")
		return err == nil && strings.TrimSpace(out) == "ok"
	})
	metrics, err := curl("-f", "http://127.0.0.1:9955/metrics")
	if err != nil {
		t.Fatalf("%v\n%s", err, m.daemonLog())
	}
	for _, want := range []string{"healing_build_info{version=", "healing_last_check_timestamp_seconds", "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/", "200"}, {"GET", "/api/v1/status", "200"}, {"POST", "/api/v1/status", "405"},
		{"DELETE", "/metrics", "405"}, {"GET", "/nope", "404"},
	} {
		if got := code(c.method, "http://127.0.0.1:9955"+c.path); got != c.want {
			t.Errorf("%s %s: got %s; want %s", c.method, c.path, got, c.want)
		}
	}

	m.MustRun(t, "sh", "-c", `printf '[monitoring]\ninterval = "1s"\nlisten = "127.0.0.1:9956"\n' > /etc/luminous-healing/config.toml`)
	t0 := time.Now()
	m.MustRun(t, "systemctl", "reload", "luminous-healing.service")
	m.waitFor(10*time.Second, "the listener to move to :9956", func() bool {
		return code("GET", "http://127.0.0.1:9956/healthz") == "200"
	})
	moved := time.Since(t0)
	if _, err := curl("http://127.0.0.1:9955/healthz"); err == nil {
		t.Error("the old address still answers after the reload")
	}
	if got := code("GET", "http://127.0.0.1:9956/"); got != "404" {
		t.Errorf("GET / with dashboard off: got %s; want 404", got)
	}
	report(t, "/metrics %d bytes; reload moved the listener in %s", len(metrics), moved.Round(time.Millisecond))
}
