package metrics_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// BenchmarkScrape scrapes /metrics over loopback TCP the way Prometheus
// does (gzip accepted), with a daemon's worth of series: it reports the
// median and 99th percentile latency and the bytes on the wire. The
// target is a p50 of at most 2 ms.
//
//	go test -run '^$' -bench Scrape -benchtime 2000x ./internal/metrics/
func BenchmarkScrape(b *testing.B) {
	r := metrics.New(metrics.Options{Version: "bench"})
	busy(r)
	// A larger machine than the fixture: six mounts, a dozen breakers.
	for i := range 12 {
		r.IssueDetected(issue.Record{ID: fmt.Sprintf("unit:u%d.service", i), Kind: issue.Unit})
		r.ActionDone(heal.Result{Action: issue.Restart, Outcome: heal.Failed, Duration: time.Duration(i) * 100 * time.Millisecond})
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	scrapeLatency(b, srv.URL)
}

// BenchmarkScrapeNodeExporter measures Debian's prometheus-node-exporter
// with its default collectors on the same machine, for comparison.
//
//	go test -run '^$' -bench ScrapeNodeExporter -benchtime 200x ./internal/metrics/
func BenchmarkScrapeNodeExporter(b *testing.B) {
	bin := testbed.NeedTool(b, "prometheus-node-exporter", "prometheus-node-exporter")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr + "/metrics"
	for i := 0; ; i++ {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			b.Fatalf("node_exporter did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	scrapeLatency(b, url)
}

func scrapeLatency(b *testing.B, url string) {
	c := &http.Client{}
	get := func() (int64, time.Duration) {
		req, _ := http.NewRequest("GET", url, nil)
		// Prometheus asks for gzip. Asking explicitly keeps the transport
		// from decompressing, so n is what crossed the wire.
		req.Header.Set("Accept-Encoding", "gzip")
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return n, time.Since(t0)
	}
	get() // warm the connection and the collectors
	lat := make([]time.Duration, 0, b.N)
	var bytes int64
	b.ResetTimer()
	for range b.N {
		n, d := get()
		bytes = n
		lat = append(lat, d)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(bytes), "bytes/scrape")
}
