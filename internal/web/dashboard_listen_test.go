package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// monitoring.dashboard_listen gives the dashboard a listener of its own —
// what the NixOS module's dashboardPort sets — and takes it off the main one.
func TestTheDashboardCanHaveAListenerOfItsOwn(t *testing.T) {
	own := strings.Replace(baseConfig, "dashboard = true", "dashboard = true\ndashboard_listen = \"127.0.0.2:0\"", 1)
	d := startDaemon(t, own)
	var dash string
	waitFor(t, "the dashboard's listener", func() bool { dash = d.srv.DashboardAddr(); return dash != "" })
	if !strings.HasPrefix(dash, "127.0.0.2:") {
		t.Fatalf("the dashboard listens on %s; want 127.0.0.2:…", dash)
	}
	status := func(url string) int {
		resp := get(t, "GET", url)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		listener, base string
		want           map[string]int
	}{
		{"the main listener", d.url, map[string]int{"/": 404, "/assets/app.js": 404, "/metrics": 200, "/api/v1/status": 200, "/healthz": 200}},
		{"the dashboard's listener", "http://" + dash, map[string]int{"/": 200, "/assets/app.js": 200, "/metrics": 404, "/api/v1/status": 200, "/api/v1/history": 200, "/healthz": 200}},
	} {
		t.Run(tt.listener+" serves its share", func(t *testing.T) {
			for path, want := range tt.want {
				if got := status(tt.base + path); got != want {
					t.Errorf("GET %s: got %d; want %d", path, got, want)
				}
			}
		})
	}

	t.Run("a reload without dashboard_listen brings the dashboard back to the main listener", func(t *testing.T) {
		d.reload(t, baseConfig)
		waitFor(t, "the dashboard's listener to stop", func() bool { return d.srv.DashboardAddr() == "" })
		if got := status(d.url + "/"); got != 200 {
			t.Errorf("GET / on the main listener: got %d; want 200", got)
		}
		if resp, err := http.Get("http://" + dash + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("the dashboard's old address %s still answers", dash)
		}
	})
}
