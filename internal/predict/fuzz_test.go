package predict

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/state"
)

// FuzzPredictionFile: prediction.json is read back at every start. Whatever
// it holds, New returns a working predictor (with an error saying what was
// wrong), never a panic.
func FuzzPredictionFile(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"Series":{"disk:/":[{"T":"2026-01-01T00:00:00Z","V":50}]}}`))
	f.Add([]byte(`{"Series":{"disk:/":[{"T":"2026-01-01T00:00:00Z","V":-1e308}]}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir.Path(), fileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, _ := New(Settings{HistorySize: 100, Horizon: 6 * time.Hour, MinConfidence: 0.8}, dir)
		if p == nil {
			t.Fatal("New returned no predictor")
		}
	})
}
