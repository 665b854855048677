package web_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkDashboard loads the dashboard in Debian's chromium and reports
// what the page weighs over the wire (budget: 100 KB) and how long from
// navigation until live data is on screen (budget: 1 s), median and worst.
//
//	go test -run '^$' -bench Dashboard -benchtime 20x ./internal/web/
func BenchmarkDashboard(b *testing.B) {
	d := startDaemon(b, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tab, _ := browser(b, ctx)
	if err := chromedp.Do(tab); err != nil {
		b.Fatal(err)
	}
	bytes := 0
	for _, p := range []string{"/", "/assets/app.js", "/assets/app.css", "/assets/icon.svg"} {
		req, _ := http.NewRequest("GET", d.url+p, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		bytes += int(n)
	}
	var lat []float64 // ms, as the page measures it: from navigation start to live data on screen
	b.ResetTimer()
	for range b.N {
		if err := chromedp.Do(tab, chromedp.Navigate(d.url+"/")); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			ms, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.dataset.liveMs || ""`))
			if err == nil && ms != "" {
				v, _ := strconv.ParseFloat(ms, 64)
				lat = append(lat, v)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no live data on the page: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(bytes), "page-bytes")
	b.ReportMetric(lat[len(lat)/2], "live-ms-p50")
	b.ReportMetric(lat[len(lat)-1], "live-ms-max")
}
