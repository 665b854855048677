package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// holdingRecorder is a Recorder that holds the status rebuild that first
// shows an issue healing until released: the moment between the rebuild
// deciding its IssueChanged and sending it.
type holdingRecorder struct {
	id      string
	held    chan struct{}
	release chan struct{}
	done    bool // touched by the status rebuild only, under the engine's statusMu
}

func (r *holdingRecorder) Checked(time.Time, time.Duration, []detect.Reading, map[issue.Kind]float64) {
}
func (r *holdingRecorder) IssueDetected(issue.Record)                {}
func (r *holdingRecorder) IssueResolved(issue.Record, time.Duration) {}
func (r *holdingRecorder) ActionDone(heal.Result)                    {}
func (r *holdingRecorder) RestartedBySystemd(string, int)            {}
func (r *holdingRecorder) Relapsed(issue.Kind, bool)                 {}
func (r *holdingRecorder) Forecasts([]predict.Forecast)              {}
func (r *holdingRecorder) State(_, _ bool, _ time.Duration, issues []issue.Record, _ []heal.BreakerState) {
	if r.done || !slices.ContainsFunc(issues, func(rec issue.Record) bool { return rec.ID == r.id && rec.State == issue.Healing }) {
		return
	}
	r.done = true
	close(r.held)
	<-r.release
}

// An issue resolved by a reload while a status rebuild (on Run's
// goroutine) is about to announce its change is never announced changed
// after it was announced resolved: clients (healingctl's notifier) take
// the last event as the issue's state. It failed before: the rebuild sent
// its IssueChanged after the reload's IssueResolved.
func TestNoIssueChangedFollowsItsResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const monitored = "[services]\nmonitored = [\"web.service\"]\n"
		path := filepath.Join(t.TempDir(), "luminous-healing.toml")
		if err := os.WriteFile(path, []byte(monitored), 0o644); err != nil {
			t.Fatal(err)
		}
		id := issue.ID(issue.Unit, "web.service")
		rec := &holdingRecorder{id: id, held: make(chan struct{}), release: make(chan struct{})}
		h := start(t, setup{configPath: path, units: []heal.UnitStatus{active("web.service")}, recorder: rec})
		restart := make(chan struct{})
		defer func() { close(restart); synctest.Wait() }()
		h.sd.SetOnRestart(func(string) { <-restart })
		synctest.Wait()
		h.unit("web.service", "failed", "failed")
		<-rec.held
		if err := os.WriteFile(path, []byte("[healing]\nenabled = true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// The reload resolves the issue and sends IssueResolved; its
		// own status rebuild then waits for the held one.
		reloaded := make(chan error, 1)
		go func() { reloaded <- h.eng.Reload(t.Context(), engine.Caller{}) }()
		var seq []string
		about := func(ev engine.Event) {
			if ev.Issue.ID == id && (ev.Type == engine.IssueDetected || ev.Type == engine.IssueChanged || ev.Type == engine.IssueResolved) {
				seq = append(seq, ev.Type.String()+" "+id)
			}
		}
		for !slices.Contains(seq, "IssueResolved "+id) {
			about(<-h.events)
		}
		close(rec.release)
		if err := <-reloaded; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for more := true; more; {
			select {
			case ev := <-h.events:
				about(ev)
			default:
				more = false
			}
		}
		i := slices.Index(seq, "IssueResolved "+id)
		if i < 0 {
			t.Fatalf("events about %s: %v; want it resolved by the reload", id, seq)
		}
		if i != len(seq)-1 {
			t.Errorf("events about %s: %v; want nothing after its IssueResolved", id, seq)
		}
	})
}
