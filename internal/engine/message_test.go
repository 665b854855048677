package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// An open issue's message says the reading now, not the one it opened with
// ("CPU 1.6 % busy" while the value was 40 %).
func TestAnOpenIssuesMessageKeepsTheReadingCurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		h.sampler.Set(detect.Reading{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 91})
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if rec, open := h.issue("cpu"); !open || !strings.Contains(rec.Message, "91.0%") {
			t.Fatalf("issue = %+v (open %v); want it open at 91%%", rec, open)
		}
		h.sampler.Set(detect.Reading{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 97.5})
		time.Sleep(time.Minute)
		synctest.Wait()
		rec, _ := h.issue("cpu")
		if rec.Value != 97.5 || !strings.Contains(rec.Message, "97.5%") {
			t.Errorf("value %v, message %q; want both at 97.5%%", rec.Value, rec.Message)
		}
	})
}

// An open issue's threshold and message follow `set threshold`: after
// `healingctl set threshold cpu 95` the issue said "(threshold 80%)" while
// status showed 95.
func TestAnOpenIssueTakesTheThresholdSetAtRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		h.sampler.Set(detect.Reading{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 99})
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if rec, open := h.issue("cpu"); !open || rec.Threshold != 80 {
			t.Fatalf("issue = %+v (open %v); want it open against 80", rec, open)
		}
		if _, err := h.eng.SetThreshold(engine.Caller{UID: 0}, "cpu", 95); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		rec, open := h.issue("cpu")
		if !open || rec.Threshold != 95 || !strings.Contains(rec.Message, "threshold 95%") {
			t.Errorf("open %v, threshold %v, message %q; want it still open, against 95", open, rec.Threshold, rec.Message)
		}
	})
}

// An injection without a threshold reports the one in force, not 0.
func TestAnInjectionWithoutAThresholdTakesTheConfiguredOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		if _, err := h.eng.SetThreshold(engine.Caller{UID: 0}, "memory", 70); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			kind issue.Kind
			want float64
		}{{issue.CPU, 80}, {issue.Memory, 70}} {
			rec, err := h.eng.ValidateInjection(engine.Injection{Kind: tc.kind, Value: 99})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Threshold != tc.want || !strings.Contains(rec.Message, fmt.Sprintf("threshold %g%%", tc.want)) {
				t.Errorf("%s: threshold %v, message %q; want %v, the one in force", tc.kind, rec.Threshold, rec.Message, tc.want)
			}
		}
		rec, _ := h.eng.ValidateInjection(engine.Injection{Kind: issue.CPU, Value: 99, Threshold: 50})
		if rec.Threshold != 50 {
			t.Errorf("an explicit threshold became %v; want 50", rec.Threshold)
		}
	})
}
