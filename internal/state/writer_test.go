package state

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// counter is a value a test changes under its lock, as an owner would.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) set(n int) {
	c.mu.Lock()
	c.n = n
	c.mu.Unlock()
}

func (c *counter) snapshot() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sample{Name: "c", Count: c.n}
}

type writes struct {
	mu  sync.Mutex
	n   int
	err error
}

func (w *writes) hook(d *Dir) {
	d.SetWriteFile(func(path string, data []byte, perm os.FileMode) error {
		w.mu.Lock()
		w.n++
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return err
		}
		return WriteFile(path, data, perm)
	})
}

func (w *writes) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *writes) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func TestTheWriterCoalescesAndWritesOnlyWhatChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := Open(t.TempDir())
		var ws writes
		ws.hook(d)
		w := NewWriter(d, nil)
		var c counter
		w.Register("c.json", time.Second, c.snapshot)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()

		for i := range 100 {
			c.set(i)
			w.Changed("c.json")
			time.Sleep(time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := ws.count(); n != 1 {
			t.Errorf("writes after 100 changes in 100 ms = %d; want 1", n)
		}
		w.Changed("c.json") // marked, but the content is the same
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := ws.count(); n != 1 {
			t.Errorf("writes after a change that changed nothing = %d; want 1", n)
		}
		c.set(1000)
		w.Changed("c.json")
		cancel() // the stop writes what is due without waiting its period
		<-done
		var got sample
		if err := d.Load("c.json", &got); err != nil || got.Count != 1000 || ws.count() != 2 {
			t.Errorf("after stop: %+v, %v, %d writes; want Count 1000 in 2 writes", got, err, ws.count())
		}
	})
}

func TestTheWriterSaysAFailingDiskOnceAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := Open(t.TempDir())
		var ws writes
		ws.hook(d)
		ws.fail(&os.PathError{Op: "write", Path: d.Path(), Err: syscall.ENOSPC})
		var logs bytes.Buffer
		w := NewWriter(d, slog.New(slog.NewTextHandler(&logs, nil)))
		var c counter
		w.Register("c.json", 0, c.snapshot)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go w.Run(ctx)

		for i := range 50 {
			c.set(i + 1)
			w.Changed("c.json")
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
			t.Errorf("warnings over 50 failed writes = %d; want 1\n%s", got, logs.String())
		}
		if n := ws.count(); n > 12 {
			t.Errorf("write attempts in 50 s on a full disk = %d; want one per retry period (%s)", n, w.retry)
		}
		ws.fail(nil)
		time.Sleep(w.retry)
		synctest.Wait()
		var got sample
		if err := d.Load("c.json", &got); err != nil || got.Count != 50 {
			t.Errorf("once the disk takes writes again: %+v, %v; want Count 50", got, err)
		}
		if got := strings.Count(logs.String(), "state saved again"); got != 1 {
			t.Errorf("notes that writes work again = %d; want 1\n%s", got, logs.String())
		}
	})
}

func TestTheWriterRemembersWhatIsOnDisk(t *testing.T) {
	d, _ := Open(t.TempDir())
	if err := d.Save("c.json", sample{Name: "c", Count: 7}); err != nil {
		t.Fatal(err)
	}
	var ws writes
	ws.hook(d)
	w := NewWriter(d, nil)
	var c counter
	c.set(7)
	w.Register("c.json", 0, c.snapshot)
	w.Changed("c.json")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := ws.count(); n != 0 {
		t.Errorf("writes of what a restart found on disk = %d; want 0", n)
	}
	ws.fail(errors.New("boom"))
	c.set(8)
	w.Changed("c.json")
	if err := w.Flush(); err == nil {
		t.Error("Flush on a failing disk = nil; want its error")
	}
	if _, err := os.Stat(filepath.Join(d.Path(), "c.json")); err != nil {
		t.Errorf("the file after a failed write: %v; want the old one kept", err)
	}
}
