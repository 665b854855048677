package engine_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

// FuzzStateFile: state.json is read back at every start. Whatever it holds
// (a damaged disk, a hand edit, another version's file), the engine starts,
// and every restored threshold passes the check a live call makes.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"Overrides":{"DryRun":true,"Thresholds":{"memory":80}},"Stopped":["web.service"]}`))
	f.Add([]byte(`{"Overrides":{"Thresholds":{"memory":1e9,"gpu":50,"disk":-3}},"Stopped":["a/b"]}`))
	f.Add([]byte(`{"Throttles":[{"Unit":"x.service"}],"Breakers":[{"IssueID":"unit:x.service","GivenUp":true}]}`))
	f.Add([]byte(`{`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir.Path(), "state.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		eng, err := engine.New(engine.Options{
			Version: "fuzz", Config: cfg, Healer: heal.New(healtest.New(), heal.SettingsFrom(cfg, ""), nil),
			Units: healtest.New(), Audit: audit.New(audit.Options{}), State: dir,
			NewSampler: func(*config.Config) (engine.Sampler, error) { return &fakeSampler{}, nil },
		})
		if err != nil {
			t.Fatalf("the engine did not start: %v", err)
		}
		for _, r := range eng.Status().Resources {
			if th := r.Threshold; math.IsNaN(th) || math.IsInf(th, 0) || th < 0 {
				t.Fatalf("%s threshold %v restored", r.Kind, th)
			}
		}
	})
}
