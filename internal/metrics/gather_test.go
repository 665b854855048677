package metrics_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/luminous-healing/luminous-healing/internal/metrics"
)

// gatherer scrapes the recorder's /metrics and parses the text with
// Prometheus's own parser: every test of the metrics' values goes through
// what the handler serves, not only what the registry holds, so a line
// Prometheus could not read fails them.
func gatherer(t testing.TB, r *metrics.Recorder) prometheus.Gatherer {
	t.Helper()
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		p := expfmt.NewTextParser(model.LegacyValidation)
		byName, err := p.TextToMetricFamilies(strings.NewReader(scrape(t, r.Handler())))
		if err != nil {
			return nil, err
		}
		out := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			out = append(out, mf)
		}
		return out, nil
	})
}

// count is the number of series of one family in a scrape.
func count(t testing.TB, r *metrics.Recorder, name string) int {
	t.Helper()
	mfs, err := gatherer(t, r).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// The handler gzips for the scrapers that accept it and only for them,
// and the gzipped body is the same exposition Prometheus's parser reads;
// OpenMetrics is served when asked for.
func TestTheHandlerNegotiatesGzipAndFormat(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "dev"})
	busy(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	get := func(accept, encoding string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		// Set explicitly, so that the transport does not decompress.
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("Accept-Encoding %q: %v", encoding, err)
			}
			body = z
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", encoding, err)
		}
		return resp, string(b)
	}
	for _, tc := range []struct {
		encoding string
		gzipped  bool
	}{
		{"gzip", true},
		{"br, gzip;q=0.5", true},
		{"identity", false},
		{"gzip;q=0", false},
	} {
		resp, body := get("", tc.encoding)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
			t.Errorf("Accept-Encoding %q: gzipped %v; want %v", tc.encoding, got, tc.gzipped)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Accept-Encoding %q: Content-Type %q", tc.encoding, ct)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Errorf("Accept-Encoding %q: %v", tc.encoding, err)
		} else if mfs["healing_build_info"] == nil || mfs["go_goroutines"] == nil || mfs["process_start_time_seconds"] == nil {
			t.Errorf("Accept-Encoding %q: families missing from %d", tc.encoding, len(mfs))
		}
	}
	resp, body := get("application/openmetrics-text;version=1.0.0", "gzip")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics asked for: Content-Type %q, body ends %q", ct, body[max(0, len(body)-20):])
	}
}
