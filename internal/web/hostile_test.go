package web_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/securitytest"
)

// A listener on a non-loopback address is reachable by name from the
// network, and a DNS-rebinding page sends its own name as Host: only the
// names the listener really has are answered.
func TestANonLoopbackListenerAnswersOnlyItsOwnNames(t *testing.T) {
	d := startDaemon(t, strings.Replace(baseConfig, `listen = "127.0.0.1:0"`,
		"listen = \"0.0.0.0:0\"\nallowed_hosts = [\"dash.example.com\"]", 1))
	_, port, err := net.SplitHostPort(d.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + port + "/api/v1/status"
	hostname, _ := os.Hostname()
	cases := []struct {
		host string
		want int
	}{
		{"evil.example", http.StatusMisdirectedRequest},
		{"evil.example:" + port, http.StatusMisdirectedRequest},
		{"10.9.8.7:" + port, http.StatusMisdirectedRequest}, // an address that is not the listener's
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"dash.example.com:" + port, http.StatusOK},
		{"DASH.example.com.", http.StatusOK},
		{hostname, http.StatusOK},
	}
	for _, c := range cases {
		t.Run("Host "+c.host, func(t *testing.T) {
			if c.want != http.StatusOK {
				securitytest.Tried(t, securitytest.BadInput, "HTTP Host "+c.host+" on a 0.0.0.0 listener", 1)
			}
			resp := get(t, "GET", url, "Host", c.host)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d; want %d", resp.StatusCode, c.want)
			}
		})
	}
}

// One client may hold a few event streams, not all of them.
func TestOneClientCannotTakeEveryEventStream(t *testing.T) {
	d := startDaemon(t, "")
	securitytest.Tried(t, securitytest.Flood, "HTTP: a fifth event stream from one client", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", d.url+"/api/v1/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var streams []*http.Response
	for i := range 4 {
		resp := open()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: status %d; want 200", i+1, resp.StatusCode)
		}
		streams = append(streams, resp)
	}
	fifth := open()
	fifth.Body.Close()
	if fifth.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a fifth stream from the same client: status %d; want %d", fifth.StatusCode, http.StatusTooManyRequests)
	}
	streams[0].Body.Close()
	waitFor(t, "a slot to come back after a stream closed", func() bool {
		resp := open()
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	for _, s := range streams[1:] {
		s.Body.Close()
	}
}

// The web dashboard shows what the daemon says (issue messages, unit
// names, history) as text: every string goes in through textContent, so
// markup in it is never parsed. No API that parses HTML may appear.
func TestTheWebDashboardWritesDaemonTextOnlyAsText(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("assets", "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts under assets/: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, api := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment", "DOMParser"} {
			if strings.Contains(string(data), api) {
				t.Errorf("%s uses %s: daemon text must go in through textContent", f, api)
			}
		}
	}
}
