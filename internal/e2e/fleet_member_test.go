package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// TestAFleetMemberLetsInTheMonitoringHostByName follows docs/fleet.md's
// recipe for a machine that another host scrapes: the daemon listens on the
// machine's own address (192.0.2.11, added to the lo of the machine's
// network namespace, with the monitoring host's 192.0.2.5 and a stranger's
// 192.0.2.6), a drop-in adds the monitoring host to the unit's
// IPAddressAllow, and Prometheus scrapes the target by its name,
// fleet-m.example.org:9955, through an HTTP proxy in the test that connects
// from 192.0.2.5 inside the machine. It checks that the stranger's
// connection is refused by the unit's filter, that the name is refused
// (421) until [monitoring] allowed_hosts lists it, and that the instance is
// then the name without the port, as the docs' relabelling makes it.
func TestAFleetMemberLetsInTheMonitoringHostByName(t *testing.T) {
	const (
		machineIP = "192.0.2.11"
		monitorIP = "192.0.2.5"
		strangeIP = "192.0.2.6"
		name      = "fleet-m.example.org"
	)
	config := fleetThresholds + "[monitoring]\ninterval = \"1s\"\nlisten = \"" + machineIP + ":9955\"\n"
	m := bootInstalled(t, boot{
		name:   "fleet-m",
		config: config,
		files: map[string]testbed.File{
			// The drop-in docs/fleet.md gives.
			"/etc/systemd/system/luminous-healing.service.d/monitoring.conf": {Data: []byte("[Service]\nIPAddressAllow=" + monitorIP + "\n")},
		},
		noStartDaemon: true,
	})
	prometheus := testbed.NeedTool(t, "prometheus", "prometheus")
	for _, ip := range []string{machineIP, monitorIP, strangeIP} {
		m.MustRun(t, "ip", "address", "add", ip+"/32", "dev", "lo")
	}
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	m.waitFor(10*time.Second, "luminous-healing to be active", func() bool { return m.isActive("luminous-healing.service") })

	dialFrom := func(ctx context.Context, ip string) (net.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
		return m.Dial(ctx, d, "tcp", machineIP+":9955")
	}
	waitUntil(t, 10*time.Second, "the monitoring host to connect", m.daemonLog, func() bool {
		c, err := dialFrom(t.Context(), monitorIP)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	stranger := "dropped by IPAddressDeny"
	if c, err := dialFrom(t.Context(), strangeIP); err == nil {
		c.Close()
		stranger = "let in"
		t.Errorf("a connection from %s reached the daemon; want the unit's IPAddressDeny to drop it", strangeIP)
	}

	// An HTTP proxy that takes Prometheus's requests for the name into the
	// machine, from the monitoring host's address.
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			// A proxy request names its target in full; it stays as is.
			r.Out.Host = r.In.Host // the name, as a scraper on the network sends it
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != name+":9955" {
					return nil, fmt.Errorf("no route to %s", addr)
				}
				return dialFrom(ctx, monitorIP)
			},
		},
	}
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := &http.Server{Handler: proxy}
	go proxySrv.Serve(proxyLn)
	t.Cleanup(func() { proxySrv.Close() })

	dir := t.TempDir()
	promAddr := freePort(t)
	writeFile(t, filepath.Join(dir, "targets", "site.yml"), "- targets: [\""+name+":9955\"]\n  labels: {site: test}\n")
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: luminous-healing
    proxy_url: http://%s
    file_sd_configs:
      - files: ["targets/*.yml"]
    relabel_configs:
      - source_labels: [__address__]
        regex: "(.+):[0-9]+"
        target_label: instance
`, proxyLn.Addr()))
	startServer(t, dir, "prometheus", prometheus,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom := &promAPI{t: t, base: "http://" + promAddr, logDir: dir, machines: []*machine{m}}
	waitUntil(t, 60*time.Second, "Prometheus to answer", prom.logs, func() bool {
		resp, err := http.Get(prom.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The machine's host name is fleet-m: the full name is refused.
	var lastError string
	waitUntil(t, 30*time.Second, "a scrape refused for its Host", prom.logs, func() bool {
		var r struct {
			ActiveTargets []struct {
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		}
		prom.get("/api/v1/targets", nil, &r)
		if len(r.ActiveTargets) == 1 && r.ActiveTargets[0].Health == "down" {
			lastError = r.ActiveTargets[0].LastError
			return true
		}
		return false
	})
	if !strings.Contains(lastError, "421") {
		t.Errorf("the scrape by name failed with %q; want 421 Misdirected Request", lastError)
	}

	// allowed_hosts names it: up, and instance is the name.
	if err := m.WriteFile("/etc/luminous-healing/config.toml", []byte(strings.Replace(config, "[monitoring]\n", "[monitoring]\nallowed_hosts = [\""+name+"\"]\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	m.MustRun(t, "systemctl", "reload", "luminous-healing.service")
	waitUntil(t, 30*time.Second, "the target to be up after allowed_hosts", prom.logs, func() bool {
		return len(prom.query(`up{job="luminous-healing",instance="`+name+`",site="test"} == 1`)) == 1
	})
	report(t, "stranger's connection %s; by name: %q, then up %s after a reload with allowed_hosts; instance %q",
		stranger, lastError, time.Since(reloaded).Round(time.Millisecond), name)
}
