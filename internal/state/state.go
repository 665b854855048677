// Package state keeps the daemon's state in its StateDirectory
// (/var/lib/luminous-healing): small JSON files written atomically, so a
// process killed mid-write leaves either the old file or the new one, never
// a torn one. A file that cannot be read back is moved aside and reported,
// never a crash.
//
// It is a leaf package; the engine and prediction use it.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrCorrupt is wrapped when a state file exists but cannot be decoded.
var ErrCorrupt = errors.New("corrupt state file")

// Dir is a state directory.
type Dir struct {
	path  string
	write func(path string, data []byte, perm os.FileMode) error
}

// Open creates the directory if needed (mode 0700: state may name units and
// callers) and returns it.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	// Temporary files of a writer that was killed mid-write.
	if stale, err := filepath.Glob(filepath.Join(path, ".*.tmp-*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	return &Dir{path: path, write: WriteFile}, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Save writes v as JSON to name atomically.
func (d *Dir) Save(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return d.writeFile(filepath.Join(d.path, name), data, 0o600)
}

// SetWriteFile replaces how the directory's files are written. It is for
// tests that need a disk that is full or does not answer, which cannot be
// made for real where they run; nil restores WriteFile.
func (d *Dir) SetWriteFile(fn func(path string, data []byte, perm os.FileMode) error) {
	if fn == nil {
		fn = WriteFile
	}
	d.write = fn
}

func (d *Dir) writeFile(path string, data []byte, perm os.FileMode) error {
	return d.write(path, data, perm)
}

// Load reads name into v. A missing file is os.ErrNotExist; a file that does
// not decode is renamed to name.corrupt-<time> and ErrCorrupt is returned,
// so the caller starts fresh and says why.
func (d *Dir) Load(name string, v any) error {
	path := filepath.Join(d.path, name)
	data, err := readRegular(path)
	if errors.Is(err, ErrNotRegular) || errors.Is(err, errTooLarge) {
		// Not the daemon's file: out of the way, as a corrupt one is.
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("%w: %v (and could not move it aside: %v)", ErrCorrupt, err, rerr)
		}
		return fmt.Errorf("%w: %v; moved aside to %s", ErrCorrupt, err, aside)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("%w: %s: %v (and could not move it aside: %v)", ErrCorrupt, path, err, rerr)
		}
		return fmt.Errorf("%w: %s: %v; moved aside to %s", ErrCorrupt, path, err, aside)
	}
	return nil
}

// WriteFile writes data to path atomically: a temporary file in the same
// directory, fsync, rename over path, fsync the directory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
