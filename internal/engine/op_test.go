package engine_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// An op is checked when it is made and again when it runs, after polkit
// has answered; between the two the configuration can change under it.
func TestAnOpRunsOnlyWhileItIsTheOnePolkitWasAskedAbout(t *testing.T) {
	// Healing is off, so that only the op acts on the issues.
	const monitored = "[services]\nmonitored = [\"web.service\"]\n" +
		"[healing]\nenabled = false\ncleanup_units = [\"systemd-tmpfiles-clean.service\"]\n"
	cases := []struct {
		name         string
		before, then string // the configuration file when the op is made, and when it runs
		op           func(*testing.T, *engine.Engine) (*engine.Op[heal.Result], error)
		tier         engine.Tier
		details      map[string]string
		wantErr      bool
	}{
		{
			name:    "an operator's Heal whose action a reload changed does not run the new one",
			before:  monitored + "[actions]\ncpu = \"throttle\"\n",
			then:    monitored + "[actions]\ncpu = \"cleanup\"\n",
			op:      func(_ *testing.T, e *engine.Engine) (*engine.Op[heal.Result], error) { return e.HealOp("cpu") },
			tier:    engine.TierHeal,
			details: map[string]string{"action": "throttle", "issue": "cpu"},
			wantErr: true,
		},
		{
			name:   "a restart of a unit a reload dropped from monitoring needs development mode",
			before: monitored,
			then:   "[healing]\nenabled = false\n",
			op: func(t *testing.T, e *engine.Engine) (*engine.Op[heal.Result], error) {
				return e.RestartUnitOp(t.Context(), "web")
			},
			tier:    engine.TierHeal,
			details: map[string]string{"action": "restart", "unit": "web.service"},
			wantErr: true,
		},
		{
			name:   "a restart of a unit still monitored runs",
			before: monitored,
			then:   monitored + "[actions]\ncpu = \"cleanup\"\n",
			op: func(t *testing.T, e *engine.Engine) (*engine.Op[heal.Result], error) {
				return e.RestartUnitOp(t.Context(), "web")
			},
			tier:    engine.TierHeal,
			details: map[string]string{"action": "restart", "unit": "web.service"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "luminous-healing.toml")
				if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
				h := start(t, setup{configPath: path, units: []heal.UnitStatus{active("web.service"), {Name: "systemd-tmpfiles-clean.service", ActiveState: "inactive"}}})
				synctest.Wait()
				if _, err := h.eng.InjectIssue(t.Context(), engine.Caller{}, engine.Injection{Kind: issue.CPU, Value: 99}); err != nil {
					t.Fatal(err)
				}
				op, err := tc.op(t, h.eng)
				if err != nil {
					t.Fatal(err)
				}
				if op.Tier != tc.tier || !maps.Equal(op.Details(), tc.details) {
					t.Fatalf("op needs %v with details %v; want %v with %v", op.Tier, op.Details(), tc.tier, tc.details)
				}
				if err := os.WriteFile(path, []byte(tc.then), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := h.eng.Reload(t.Context(), engine.Caller{}); err != nil {
					t.Fatal(err)
				}
				before := len(h.sd.Calls())
				_, err = op.Run(t.Context(), engine.Caller{UID: 1000})
				var e *engine.Error
				switch {
				case tc.wantErr && (!errors.As(err, &e) || e.Code != engine.ActionFailed):
					t.Errorf("Run: %v; want ActionFailed: the act is not the one authorized", err)
				case tc.wantErr && len(h.sd.Calls()) != before:
					t.Errorf("systemd was asked %v; want nothing", h.sd.Calls()[before:])
				case tc.wantErr && !slices.ContainsFunc(h.history(audit.ActionRefused), func(e audit.Entry) bool {
					return e.CallerUID == 1000 && e.Outcome == "changed"
				}):
					t.Errorf("the audit has %+v; want the refusal recorded with the caller", h.history(audit.ActionRefused))
				case !tc.wantErr && err != nil:
					t.Errorf("Run: %v; want it to act", err)
				case !tc.wantErr && h.countCalls("RestartUnit web.service") != 1:
					t.Errorf("systemd was asked %v; want web.service restarted", h.sd.Calls()[before:])
				}
			})
		})
	}
}

// A setting already at the value asked for is a no-op, which needs no
// authorization; one that becomes so while polkit asks changes nothing.
func TestASettingAlreadySetIsANoOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{})
		synctest.Wait()
		if op, err := h.eng.SetDryRunOp(false); err != nil || !op.NoOp {
			t.Fatalf("SetDryRunOp(false) while off: %+v, %v; want a no-op", op, err)
		}
		if op, err := h.eng.SetThresholdOp("memory", h.eng.Config().Thresholds.Memory); err != nil || !op.NoOp {
			t.Fatalf("SetThresholdOp to the threshold in force: %+v, %v; want a no-op", op, err)
		}
		op, err := h.eng.SetDryRunOp(true)
		if err != nil || op.NoOp || op.Tier != engine.TierDevelop {
			t.Fatalf("SetDryRunOp(true) while off: %+v, %v; want a development-mode change", op, err)
		}
		if _, err := h.eng.SetDryRun(engine.Caller{Name: "another admin"}, true); err != nil {
			t.Fatal(err)
		}
		changed, err := op.Run(t.Context(), engine.Caller{UID: 1000})
		if err != nil || changed {
			t.Errorf("Run after another admin set it: changed %v, %v; want nothing changed, no error", changed, err)
		}
		if n := len(h.history(audit.SettingChanged)); n != 1 {
			t.Errorf("%d setting changes recorded; want the other admin's alone", n)
		}
	})
}
