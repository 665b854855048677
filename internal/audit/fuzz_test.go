package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/state"
)

// FuzzHistoryFile: history.json is read back at every start. Whatever it
// holds, the log starts, keeps its bounds and serves the history.
func FuzzHistoryFile(f *testing.F) {
	f.Add([]byte(`[{"Event":"call-denied","CallerUID":1000,"Message":"x"},{"Event":"action-succeeded","Target":"web.service"}]`))
	f.Add([]byte(`[{"Event":"issue-detected","Time":"2026-01-01T00:00:00Z","Message":"\u001b[2J"}]`))
	f.Add([]byte(`{"not":"a list"}`))
	f.Add([]byte(`[` + "\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir.Path(), historyFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		l := New(Options{Size: 10, Store: dir})
		if n := len(l.History(0)); n > 10+2 {
			t.Fatalf("%d entries kept; want at most 12", n)
		}
		l.Record(Entry{Event: CallAllowed})
		if n := len(l.History(0)); n == 0 {
			t.Fatal("a record after a strange history is not kept")
		}
	})
}
