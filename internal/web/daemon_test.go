package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/web"
)

// sampler is a machine whose readings the test sets; /nix fills at a steady
// 12 points an hour so that prediction has something to say.
type sampler struct {
	mu   sync.Mutex
	base time.Time
	cpu  float64
}

func (s *sampler) Sample(ctx context.Context, snap *detect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Time = time.Now()
	nix := 65 + 12*snap.Time.Sub(s.base).Hours()
	snap.Readings = append(snap.Readings[:0],
		detect.Reading{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: s.cpu},
		detect.Reading{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 41.3},
		detect.Reading{ID: "load", Kind: issue.Load, Subject: "load", Value: 0.42},
		detect.Reading{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: 62.5},
		detect.Reading{ID: "inodes:/", Kind: issue.Disk, Subject: "/", Value: 4.2},
		detect.Reading{ID: "disk:/nix", Kind: issue.Disk, Subject: "/nix", Value: nix},
	)
	s.cpu = 20 + float64(int(s.cpu+7)%30) // a lively sparkline
	return nil
}

func (s *sampler) Mounts() []string { return []string{"/", "/nix"} }
func (s *sampler) Close() error     { return nil }

// daemon is an engine with a fake systemd, its audit log, metrics and the
// HTTP listener, all running until the test ends.
type daemon struct {
	eng        *engine.Engine
	sd         *healtest.Systemd
	srv        *web.Server
	configPath string
	url        string // http://ADDR of the listener
}

// baseConfig is the configuration the test daemons start from.
const baseConfig = `
[monitoring]
interval = "200ms"
listen = "127.0.0.1:0"
dashboard = true
[services]
monitored = ["nginx", "web-test"]
# A probe that always fails, watched only, for the dashboards' probe table.
[[probe]]
unit = "nginx"
type = "tcp"
address = "127.0.0.1:1"
interval = "1s"
timeout = "500ms"
failures = 1000
action = "none"
`

func startDaemon(t testing.TB, toml string) *daemon {
	t.Helper()
	d := &daemon{configPath: filepath.Join(t.TempDir(), "config.toml")}
	if toml == "" {
		toml = baseConfig
	}
	if err := os.WriteFile(d.configPath, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(d.configPath)
	if err != nil {
		t.Fatal(err)
	}
	smp := &sampler{base: time.Now(), cpu: 23}
	pred, err := predict.New(predict.Settings{HistorySize: 100, Horizon: 6 * time.Hour, MinConfidence: 0.8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Half an hour of history already, as a daemon that has been running.
	for i := 30; i > 0; i-- {
		at := smp.base.Add(-time.Duration(i) * time.Minute)
		pred.Observe(&detect.Snapshot{Time: at, Readings: []detect.Reading{
			{ID: "disk:/nix", Kind: issue.Disk, Subject: "/nix", Value: 65 - 0.2*float64(i)},
			{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 40 + float64(i%3)},
		}}, func(detect.Reading) float64 { return 90 })
	}
	rec := metrics.New(metrics.Options{Version: "test"})
	e := enginetest.New(t, enginetest.Setup{
		Config: cfg, Sampler: smp,
		Units: []heal.UnitStatus{
			{Name: "nginx.service", ActiveState: "active", SubState: "running"},
			{Name: "web-test.service", ActiveState: "active", SubState: "running"},
		},
		FreeBytes: func(context.Context) (map[string]uint64, error) {
			return map[string]uint64{"/": 1 << 30, "/nix": 1 << 30}, nil
		},
		Options: func(o *engine.Options) {
			o.Mode, o.ConfigPath, o.Predictor, o.Recorder = "system", d.configPath, pred, rec
			o.Watcher = nil // these tests send no unit signals
		},
	})
	d.eng, d.sd = e.Engine, e.Systemd
	log := e.Audit
	d.srv = web.New(web.Options{Engine: d.eng, History: log, Metrics: rec.Handler()})
	ctx, cancel := context.WithCancel(context.Background())
	engDone := e.Start(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.srv.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); <-engDone })
	d.url = "http://" + waitAddr(t, d.srv, "")
	waitFor(t, "the first check", func() bool { return !d.eng.Status().LastCheck.IsZero() })
	return d
}

// waitAddr waits for the listener to be bound to an address other than old.
func waitAddr(t testing.TB, srv *web.Server, old string) string {
	t.Helper()
	var addr string
	waitFor(t, "the listener", func() bool { addr = srv.Addr(); return addr != "" && addr != old })
	return addr
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reload rewrites the configuration file and reloads it, as SIGHUP would.
func (d *daemon) reload(t *testing.T, toml string) {
	t.Helper()
	if err := os.WriteFile(d.configPath, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.eng.Reload(context.Background(), engine.Caller{UID: 0, Name: "test"}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, method, url string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
