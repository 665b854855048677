package state

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/securitytest"
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

// The state directory is root's, but a file in it that the daemon did not
// write must neither hang it nor be followed out of the directory: a FIFO
// would block start-up and SIGTERM in open(2), a symbolic link could point
// at any file, a huge file would be read whole.
func TestLoadReadsOnlyRegularFilesOfBoundedSize(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.WriteFile(target, []byte(`{"Name":"elsewhere","Count":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(d.Path(), "fifo.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(d.Path(), "link.json")); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(d.Path(), "big.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	big.Close()
	for _, name := range []string{"fifo.json", "link.json", "big.json"} {
		t.Run(name, func(t *testing.T) {
			securitytest.Tried(t, securitytest.BadInput, "state file "+name+" that is not a small regular file", 1)
			done := make(chan error, 1)
			var got sample
			go func() { done <- d.Load(name, &got) }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("Load = %v; want ErrCorrupt", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load blocked")
			}
			if got.Name != "" {
				t.Errorf("read %+v; want nothing", got)
			}
			if _, err := os.Lstat(filepath.Join(d.Path(), name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is still in place; want it moved aside", name)
			}
		})
	}
}
