package web_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// browser starts Debian's chromium headless for the test and returns a tab,
// with every console message, exception and browser-log entry collected.
func browser(t testing.TB, ctx context.Context) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	bin := testbed.NeedTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in a container: chromium's sandbox needs user namespaces
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })

	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	console := chromedp.Console(tab)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	return tab, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(msgs)
	}
}

// artifact writes a file for people to look at after the run: under
// $ARTIFACTS_DIR (CI sets it), else under the system's temporary directory.
func artifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "luminous-healing-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s", p)
}

func TestDashboardInARealBrowser(t *testing.T) {
	d := startDaemon(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tab, console := browser(t, ctx)
	// Start the browser before the clock runs.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}

	t0 := time.Now()
	if err := chromedp.Do(tab, chromedp.Navigate(d.url+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`Number(document.body.dataset.snapshots || 0) > 0`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("no live data on the page: %v", err)
	}
	t.Logf("live data shown %v after navigation started", time.Since(t0).Round(time.Millisecond))

	t.Run("it shows every resource with a sparkline", func(t *testing.T) {
		var want []string
		for _, r := range d.eng.Status().Resources {
			want = append(want, r.ID)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('#resources .resource')].map(e => e.dataset.id)`))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("resources on the page: got %v; want %v", got, want)
		}
		lines, err := chromedp.Run(tab, chromedp.Evaluate[int](
			`document.querySelectorAll('#resources .resource svg.spark polyline.line').length`))
		if err != nil {
			t.Fatal(err)
		}
		if lines != len(want) {
			t.Errorf("sparklines: got %d; want one per resource (%d)", lines, len(want))
		}
	})
	t.Run("it shows the prediction with its time to threshold", func(t *testing.T) {
		text, err := chromedp.Run(tab, chromedp.Evaluate[string](
			`(document.querySelector('tr.prediction[data-id="disk:/nix"]') || {}).textContent || ''`))
		if err != nil {
			t.Fatal(err)
		}
		if text == "" {
			t.Fatal("no prediction row for disk:/nix")
		}
		t.Logf("prediction row: %q", text)
	})

	block := make(chan struct{})
	d.sd.OnRestart = func(string) { <-block }
	if _, err := d.eng.InjectIssue(ctx, engine.Caller{Name: "browser-test"},
		engine.Injection{Kind: issue.Unit, Subject: "web-test", Severity: issue.Critical}); err != nil {
		close(block)
		t.Fatal(err)
	}
	t.Run("it lists the probes with their last result", func(t *testing.T) {
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](
			`/tcp 127\.0\.0\.1:1.*failed: .*refused.*\/1000 \(watch only\)/.test((document.querySelector('tr.probe[data-id="nginx.service"]') || {}).textContent || '')`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('probes').textContent`))
			t.Fatalf("the probe's row never showed its failure: %v\n%s", err, text)
		}
	})
	t.Run("an injected issue appears without a reload", func(t *testing.T) {
		defer close(block)
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](
			`!!document.querySelector('tr.issue[data-id="unit:web-test.service"]') && document.getElementById('health').textContent === 'critical'`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the injected issue never showed: %v", err)
		}
		shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		artifact(t, "dashboard.png", shot)
	})
	t.Run("and goes once healed, with the restart among the actions", func(t *testing.T) {
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](
			`!document.querySelector('tr.issue') && [...document.querySelectorAll('tr.action')].some(r => /restart/.test(r.textContent) && /succeeded/.test(r.textContent))`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the healed issue did not go: %v", err)
		}
	})
	t.Run("it reads on a phone in dark mode", func(t *testing.T) {
		err := chromedp.Do(tab,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
			chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
				_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
				return err
			}))
		if err != nil {
			t.Fatal(err)
		}
		overflow, err := chromedp.Run(tab, chromedp.Evaluate[bool](
			`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if overflow {
			t.Error("the page is wider than a phone's screen")
		}
		bg, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		if err != nil {
			t.Fatal(err)
		}
		if bg != "rgb(16, 19, 23)" {
			t.Errorf("background in dark mode: got %s; want the dark theme's rgb(16, 19, 23)", bg)
		}
		shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		artifact(t, "dashboard-phone-dark.png", shot)
	})
	t.Run("the console stays clean", func(t *testing.T) {
		for _, m := range console() {
			if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
				t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
			}
		}
	})
}
