package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Options configure a Sampler.
type Options struct {
	ProcRoot string   // "" means "/proc"
	SysRoot  string   // "" means "/sys"; no signal reads /sys yet
	Mounts   []string // mounts to watch; nil means DefaultMounts(ProcRoot), empty means none
	// Statfs reports one mount; nil means statfs(2). Tests inject it.
	Statfs func(path string) (Mount, error)
}

// Sampler takes sampling passes over the machine's resources. It keeps the
// /proc files it reads open between passes (see procFile) and the previous
// CPU counters, so use one Sampler for the daemon's life and Close it at the
// end. It is not safe for concurrent use.
type Sampler struct {
	procRoot   string
	sysRoot    string
	mounts     []string
	statfs     func(path string) (Mount, error)
	collectors []collector
	files      []*procFile
}

// collector samples one signal. Each signal's file registers a factory for
// it from init, so adding a signal touches one file, its test and its
// fixtures.
type collector interface {
	// update appends the signal's readings (and, for disk, mounts) to snap.
	// It returns an error only for its own signal; the pass goes on.
	update(snap *Snapshot) error
}

type factory func(s *Sampler) (collector, error)

var factories = map[string]factory{}

// register adds a signal's collector; it is called from init.
func register(signal string, f factory) {
	if _, dup := factories[signal]; dup {
		panic("detect: signal " + signal + " registered twice")
	}
	factories[signal] = f
}

// NewSampler validates opts, resolves the mounts and opens the /proc files
// the signals read. A missing /proc/pressure is not an error: that signal
// then gives no readings. PSI is sampled wherever it exists, threshold or
// not (it costs about 2.5 µs, and the series are worth exporting); the
// Evaluator leaves pressure off until its threshold is set, so turning
// that on at run time needs no new Sampler.
func NewSampler(opts Options) (*Sampler, error) {
	s := &Sampler{
		procRoot: opts.ProcRoot,
		sysRoot:  opts.SysRoot,
		statfs:   opts.Statfs,
	}
	if s.procRoot == "" {
		s.procRoot = "/proc"
	}
	if s.sysRoot == "" {
		s.sysRoot = "/sys"
	}
	if s.statfs == nil {
		s.statfs = statfs
	}
	if fi, err := os.Stat(s.procRoot); err != nil {
		return nil, fmt.Errorf("proc root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("proc root %s: not a directory", s.procRoot)
	}

	if opts.Mounts == nil {
		m, err := DefaultMounts(s.procRoot)
		if err != nil {
			return nil, err
		}
		s.mounts = m
	} else {
		seen := make(map[string]bool, len(opts.Mounts))
		for _, m := range opts.Mounts {
			if !filepath.IsAbs(m) || filepath.Clean(m) != m {
				return nil, fmt.Errorf("mount %q: must be a clean absolute path", m)
			}
			if seen[m] {
				return nil, fmt.Errorf("mount %q: listed twice", m)
			}
			seen[m] = true
		}
		s.mounts = slices.Clone(opts.Mounts)
	}

	signals := make([]string, 0, len(factories))
	for name := range factories {
		signals = append(signals, name)
	}
	sort.Strings(signals) // a fixed order keeps Snapshot.Readings stable
	for _, name := range signals {
		c, err := factories[name](s)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.collectors = append(s.collectors, c)
	}
	return s, nil
}

// Mounts returns the mounts the sampler watches, resolved.
func (s *Sampler) Mounts() []string { return slices.Clone(s.mounts) }

// Sample takes one pass over every signal and fills snap, reusing its
// slices: in steady state a pass allocates only what statfs(2) needs to pass
// each mount's path to the kernel. A failing signal or mount does not stop
// the others: snap holds every reading that could be taken, and the error
// returned joins one *SignalError per failure (see SignalErrors).
func (s *Sampler) Sample(ctx context.Context, snap *Snapshot) error {
	snap.Readings = snap.Readings[:0]
	snap.Mounts = snap.Mounts[:0]
	if err := ctx.Err(); err != nil {
		return err
	}
	snap.Time = time.Now()
	var errs []error
	for _, c := range s.collectors {
		if err := c.update(snap); err != nil {
			// Flatten a collector's own join so the caller sees one
			// list with an entry per signal or mount.
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = append(errs, j.Unwrap()...)
			} else {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SignalErrors lists the per-signal failures in an error from Sample.
func SignalErrors(err error) []*SignalError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	var out []*SignalError
	for _, e := range errs {
		var se *SignalError
		if errors.As(e, &se) {
			out = append(out, se)
		}
	}
	return out
}

// Close releases the files the sampler keeps open. The sampler must not be
// used afterwards.
func (s *Sampler) Close() error {
	var errs []error
	for _, f := range s.files {
		if err := f.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.files = nil
	return errors.Join(errs...)
}

// SignalError is one signal's failure in a pass: a file that could not be
// read or parsed, or a mount that could not be measured.
type SignalError struct {
	Signal string // "cpu", "memory", "disk", "load", "pressure"
	Mount  string // the mount, for disk; "" otherwise
	Err    error
}

func (e *SignalError) Error() string {
	if e.Mount != "" {
		return "sample " + e.Signal + " " + e.Mount + ": " + e.Err.Error()
	}
	return "sample " + e.Signal + ": " + e.Err.Error()
}

func (e *SignalError) Unwrap() error { return e.Err }

// procFile is one /proc file kept open between passes and read again from
// offset 0 each time, into a buffer it owns. The kernel regenerates a
// seq_file's text on every read from offset 0, so this sees fresh values
// while skipping the open and close that cost more than half of each read
// (measured in docs/dependencies.md). Tests that change a fixture between
// passes must rewrite it in place, not replace it.
type procFile struct {
	name string
	f    *os.File
	buf  []byte
}

// openProc opens name below the sampler's proc root and registers it for
// Close. size bounds how much of the file a pass reads: the signals need
// only its first lines.
func (s *Sampler) openProc(name string, size int) (*procFile, error) {
	path := filepath.Join(s.procRoot, name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p := &procFile{name: path, f: f, buf: make([]byte, size)}
	s.files = append(s.files, p)
	return p, nil
}

// read returns the start of the file, up to the buffer's size. The slice
// is valid until the next read.
func (p *procFile) read() ([]byte, error) {
	n, err := p.f.ReadAt(p.buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return p.buf[:n], nil
}

func (p *procFile) close() error { return p.f.Close() }
