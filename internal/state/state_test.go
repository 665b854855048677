package state

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name  string
	Count int
}

func TestSaveLoadRoundTrip(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	want := sample{"x", 3}
	if err := d.Save("s.json", want); err != nil {
		t.Fatal(err)
	}
	var got sample
	if err := d.Load("s.json", &got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if err := d.Load("missing.json", &got); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want os.ErrNotExist", err)
	}
	entries, _ := os.ReadDir(d.Path())
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want 1 (no temporary files left)", len(entries))
	}
}

func TestACorruptFileIsMovedAsideAndReported(t *testing.T) {
	d, _ := Open(t.TempDir())
	os.WriteFile(filepath.Join(d.Path(), "s.json"), []byte(`{"Name": "x", "Cou`), 0o600)
	var got sample
	err := d.Load("s.json", &got)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "moved aside") {
		t.Fatalf("Load = %v; want ErrCorrupt saying where the file went", err)
	}
	if _, err := os.Stat(filepath.Join(d.Path(), "s.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt file is still in place")
	}
	matches, _ := filepath.Glob(filepath.Join(d.Path(), "s.json.corrupt-*"))
	if len(matches) != 1 {
		t.Errorf("found %d moved-aside files; want 1", len(matches))
	}
}

// TestKilledWriterLeavesOldOrNew SIGKILLs a process that rewrites a file in
// a tight loop, many times, and checks the file always decodes.
func TestKilledWriterLeavesOldOrNew(t *testing.T) {
	if os.Getenv("STATE_WRITER") != "" {
		d, _ := Open(os.Getenv("STATE_WRITER"))
		big := strings.Repeat("x", 64<<10)
		for i := 0; ; i++ {
			d.Save("s.json", sample{Name: big, Count: i})
		}
	}
	dir := t.TempDir()
	d, _ := Open(dir)
	if err := d.Save("s.json", sample{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesOldOrNew$")
		cmd.Env = append(os.Environ(), "STATE_WRITER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+round) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		var got sample
		if err := d.Load("s.json", &got); err != nil {
			t.Fatalf("round %d: after SIGKILL mid-write: %v", round, err)
		}
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if stale, _ := filepath.Glob(filepath.Join(dir, ".*")); len(stale) != 0 {
		t.Errorf("Open left the killed writers' temporary files: %q", stale)
	}
}
