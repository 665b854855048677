package web_test

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/luminous-healing/luminous-healing/internal/engine"
)

// The dashboard says what its numbers mean, in a real browser: each
// sparkline's time span, a prediction's confidence in words, a run-time
// override in force, and where the metrics and the JSON API are. Each
// failed before: the span was only in an aria-label, confidence read
// "72% of 37", nothing showed an override, and nothing linked /metrics or
// /api/v1.
func TestTheDashboardExplainsItsNumbers(t *testing.T) {
	d := startDaemon(t, "")
	if _, err := d.eng.SetThreshold(engine.Caller{UID: 0, Name: "browser-test"}, "cpu", 70); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tab, _ := browser(t, ctx)
	if err := chromedp.Do(tab, chromedp.Navigate(d.url+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`Number(document.body.dataset.snapshots || 0) > 0 && !!document.querySelector('tr.prediction')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("no live data with a prediction on the page: %v", err)
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("a sparkline says the time it spans", func(t *testing.T) {
		// disk:/nix has half an hour of history (startDaemon).
		got := text(`(document.querySelector('.resource[data-id="disk:/nix"] .span') || {}).textContent || ''`)
		if !regexp.MustCompile(`^last (29|30|31)m`).MatchString(got) {
			t.Errorf("disk:/nix sparkline caption %q; want \"last 30m …\"", got)
		}
	})
	t.Run("a prediction's confidence says what it is", func(t *testing.T) {
		got := text(`(document.querySelector('tr.prediction[data-id="disk:/nix"] td.confidence') || {}).textContent || ''`)
		if !regexp.MustCompile(`^\d+% sure, from \d+ samples$`).MatchString(got) {
			t.Errorf("confidence cell %q; want \"N%% sure, from M samples\"", got)
		}
	})
	t.Run("an override in force is shown", func(t *testing.T) {
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](`/thresholds\.cpu=70/.test(document.getElementById('overrides').textContent)`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Errorf("header %q; want the override thresholds.cpu=70: %v", text(`document.querySelector('header').textContent`), err)
		}
		if title := text(`document.getElementById('overrides').title`); !regexp.MustCompile(`reload`).MatchString(title) {
			t.Errorf("override's title %q; want it to say a reload ends it", title)
		}
	})
	t.Run("the metrics and the JSON API are linked", func(t *testing.T) {
		got := text(`[...document.querySelectorAll('footer a')].map(a => a.getAttribute('href')).join(' ')`)
		for _, want := range []string{"/metrics", "/api/v1/status"} {
			if !regexp.MustCompile(`(^| )` + regexp.QuoteMeta(want) + `( |$)`).MatchString(got) {
				t.Errorf("footer links %q; want %s", got, want)
			}
		}
	})
	// The screenshot is for people; the checks above are the test.
	if os.Getenv("ARTIFACTS_DIR") != "" {
		if shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
			artifact(t, "dashboard-explained.png", shot)
		}
	}
}
