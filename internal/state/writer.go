package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Writer is the one goroutine that writes a state directory's files, so
// that the disk never stalls the daemon (a full or slow state filesystem is
// what the daemon exists to heal). Owners register a file with a function
// that snapshots its content and call Changed when it may have changed;
// Changed never blocks and never touches the disk. The writer takes the
// snapshot (the owner's lock is held only for that), encodes it outside any
// lock, and writes it only when the bytes differ from what it last wrote:
// coalesced to at most one write per file per its period, and once more at
// stop. A failing write is logged once, and once again when writes work
// again; the file stays due and is retried.
//
// Create it with NewWriter, register every file before Run starts, and let
// exactly one owner call Run.
type Writer struct {
	dir   *Dir
	log   *slog.Logger
	retry time.Duration

	mu      sync.Mutex
	files   map[string]*file
	order   []string
	failing error // the first error of the current failing spell
	wake    chan struct{}

	writes atomic.Int64
	stuck  atomic.Int64 // UnixNano when the write in progress started; 0 when idle
}

type file struct {
	name     string
	every    time.Duration
	snapshot func() any
	due      bool
	dueAt    time.Time // when it may be written next (coalescing)
	sum      [sha256.Size]byte
	known    bool // sum is what the file holds
}

// NewWriter returns a Writer for d. log gets the one warning per failing
// spell.
func NewWriter(d *Dir, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{dir: d, log: log, retry: 5 * time.Second, files: map[string]*file{}, wake: make(chan struct{}, 1)}
}

// Dir returns the directory the writer writes.
func (w *Writer) Dir() *Dir { return w.dir }

// Register adds a file. snapshot returns its content, to be encoded as
// JSON; it is called from the writer's goroutine and must return a value
// that nothing changes afterwards (a copy). every is the least time between
// two writes of the file: what a crash may lose of it. What the file holds
// now is remembered, so a restart with nothing new writes nothing.
func (w *Writer) Register(name string, every time.Duration, snapshot func() any) {
	f := &file{name: name, every: every, snapshot: snapshot}
	if data, err := w.dir.readFile(name); err == nil {
		f.sum, f.known = sha256.Sum256(data), true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.files[name]; !ok {
		w.order = append(w.order, name)
	}
	w.files[name] = f
}

// Changed marks name as due for writing. It never blocks.
func (w *Writer) Changed(name string) {
	w.mu.Lock()
	f := w.files[name]
	if f == nil || f.due {
		w.mu.Unlock()
		return
	}
	// One period after the first change, with every change until then
	// in the one write.
	f.due = true
	f.dueAt = time.Now().Add(f.every)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Writes returns how many files have been written so far.
func (w *Writer) Writes() int64 { return w.writes.Load() }

// Stuck returns how long the write in progress has been running, 0 when
// none is.
func (w *Writer) Stuck() time.Duration {
	at := w.stuck.Load()
	if at == 0 {
		return 0
	}
	return time.Since(time.Unix(0, at))
}

// Run writes what is due until ctx ends, then writes what is still due
// once more and returns.
func (w *Writer) Run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := w.writeDue(false)
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), 0)
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			w.writeDue(true)
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// Flush writes every file that is due now, whatever its period. It is for
// owners without Run (tests) and for the stop path.
func (w *Writer) Flush() error {
	w.writeDue(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing
}

// writeDue writes the files whose time has come (all due ones when all)
// and returns when the next one is due, zero for none.
func (w *Writer) writeDue(all bool) time.Time {
	now := time.Now()
	w.mu.Lock()
	var todo []*file
	for _, name := range w.order {
		f := w.files[name]
		if f.due && (all || !now.Before(f.dueAt)) {
			f.due = false
			todo = append(todo, f)
		}
	}
	w.mu.Unlock()

	for _, f := range todo {
		data, err := json.Marshal(f.snapshot())
		if err != nil {
			// A value that does not encode is a bug, not the disk's
			// fault; writing it again will not help.
			w.log.Error("state not saved: it does not encode", "file", f.name, "err", err)
			continue
		}
		sum := sha256.Sum256(data)
		w.mu.Lock()
		same := f.known && bytes.Equal(sum[:], f.sum[:])
		w.mu.Unlock()
		if same {
			continue
		}
		w.stuck.Store(time.Now().UnixNano())
		err = w.dir.writeFile(filepath.Join(w.dir.path, f.name), data, 0o600)
		w.stuck.Store(0)
		w.mu.Lock()
		if err != nil {
			// Due again, after a pause: a full disk does not empty
			// itself in a millisecond.
			f.due = true
			f.dueAt = time.Now().Add(w.retry)
			first := w.failing == nil
			if first {
				w.failing = err
			}
			w.mu.Unlock()
			if first {
				w.log.Warn("state could not be saved; detection and healing go on, and it is saved once the disk takes it",
					"dir", w.dir.path, "err", err)
			}
			continue
		}
		f.sum, f.known = sum, true
		recovered := w.failing != nil
		w.failing = nil
		w.mu.Unlock()
		w.writes.Add(1)
		if recovered {
			w.log.Info("state saved again", "dir", w.dir.path)
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	var next time.Time
	for _, f := range w.files {
		if f.due && (next.IsZero() || f.dueAt.Before(next)) {
			next = f.dueAt
		}
	}
	return next
}

func (d *Dir) readFile(name string) ([]byte, error) {
	return readRegular(filepath.Join(d.path, name))
}
