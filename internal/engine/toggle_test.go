package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// An issue whose action was only planned in dry-run, or only watched while
// healing was off, still holds when the setting changes back: it must act
// then, whichever way the setting changed. The reload row failed before:
// only SetDryRun sent planned issues back through healing.
func TestAPlannedIssueActsOnceDryRunGoesOffOrHealingComesBack(t *testing.T) {
	op := engine.Caller{UID: 0, Name: ":1.9"}
	for _, tc := range []struct {
		name   string
		toggle func(t *testing.T, h *harness, path string)
	}{
		{"dry-run switched off", func(t *testing.T, h *harness, _ string) {
			h.eng.SetDryRun(op, false)
		}},
		{"dry-run off by a reload of the file", func(t *testing.T, h *harness, path string) {
			os.WriteFile(path, []byte("[services]\nmonitored = [\"web\"]\n"), 0o644)
			if err := h.eng.Reload(t.Context(), op); err != nil {
				t.Fatal(err)
			}
		}},
		{"healing off, dry-run off, healing on again", func(t *testing.T, h *harness, _ string) {
			h.eng.SetHealingEnabled(op, false)
			h.eng.SetDryRun(op, false)
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			if n := h.countCalls("RestartUnit"); n != 0 {
				t.Errorf("%d restarts while healing was off; want none", n)
			}
			h.eng.SetHealingEnabled(op, true)
		}},
		{"dry-run off while healing is off, then healing on", func(t *testing.T, h *harness, _ string) {
			h.eng.SetDryRun(op, false)
			h.eng.SetHealingEnabled(op, false)
			time.Sleep(time.Minute)
			h.eng.SetHealingEnabled(op, true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(path, []byte("[services]\nmonitored = [\"web\"]\n[healing]\ndry_run = true\n"), 0o644)
			synctest.Test(t, func(t *testing.T) {
				h := start(t, setup{configPath: path, units: []heal.UnitStatus{active("web.service")}})
				synctest.Wait()
				h.unit("web.service", "failed", "failed")
				synctest.Wait()
				if rec, _ := h.issue("unit:web.service"); rec.State != issue.Planned {
					t.Fatalf("state in dry-run = %s; want planned", rec.State)
				}
				tc.toggle(t, h, path)
				synctest.Wait()
				if n := h.countCalls("RestartUnit web.service"); n != 1 {
					t.Errorf("restarts of the still failed unit = %d; want 1", n)
				}
				if _, open := h.issue("unit:web.service"); open {
					t.Errorf("the issue is still open; want it healed")
				}
			})
		})
	}
}
