package testbed

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Paths are resolved as if the machine's root were / (RESOLVE_IN_ROOT), so an
// absolute symlink such as /var/run -> /run stays inside the machine instead
// of leading to the host's file of that name.
const resolveInMachine = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// WriteFile writes data to the machine's file at the absolute path name,
// creating missing parent directories 0755, and sets its mode. The file is
// owned by root. It works before and after boot.
func (m *Machine) WriteFile(name string, data []byte, mode fs.FileMode) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	root, rel, err := m.resolve(name)
	if err != nil {
		return err
	}
	if err := mkdirAllIn(root, path.Dir(rel)); err != nil {
		return fmt.Errorf("testbed: write %s: %w", name, err)
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC,
		Mode:    0o600,
		Resolve: resolveInMachine,
	})
	if err != nil {
		return fmt.Errorf("testbed: write %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("testbed: write %s: %w", name, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("testbed: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("testbed: write %s: %w", name, err)
	}
	return nil
}

// ReadFile returns the content of the machine's file at the absolute path
// name.
func (m *Machine) ReadFile(name string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	root, rel, err := m.resolve(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: resolveInMachine,
	})
	if err != nil {
		return nil, fmt.Errorf("testbed: read %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("testbed: read %s: %w", name, err)
	}
	return data, nil
}

// mkdirAll creates the machine's directory at the absolute path name and
// its missing parents, 0755.
func (m *Machine) mkdirAll(name string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	root, rel, err := m.resolve(name)
	if err != nil {
		return err
	}
	if err := mkdirAllIn(root, rel); err != nil {
		return fmt.Errorf("testbed: mkdir %s: %w", name, err)
	}
	return nil
}

// stat reports whether the machine's file at name exists, following
// symlinks inside the machine.
func (m *Machine) stat(name string) (unix.Stat_t, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var st unix.Stat_t
	root, rel, err := m.resolve(name)
	if err != nil {
		return st, err
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveInMachine})
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstat(fd, &st)
	return st, err
}

// resolve returns the descriptor of the machine's root and name relative to
// it. The caller holds m.mu.
func (m *Machine) resolve(name string) (int, string, error) {
	if !path.IsAbs(name) {
		return -1, "", fmt.Errorf("testbed: %q is not an absolute path", name)
	}
	if m.nsFiles == nil {
		return -1, "", ErrStopped
	}
	rel := strings.TrimPrefix(path.Clean(name), "/")
	if rel == "" {
		rel = "."
	}
	return int(m.nsFiles[len(m.nsFiles)-1].Fd()), rel, nil
}

// mkdirAllIn creates dir, relative to the machine's root, and its missing
// parents. Each parent is opened with RESOLVE_IN_ROOT from the root, so a
// symlink on the way cannot lead out of the machine.
func mkdirAllIn(root int, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	cur := "."
	for _, name := range strings.Split(dir, "/") {
		parent, err := unix.Openat2(root, cur, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: resolveInMachine,
		})
		if err != nil {
			return err
		}
		err = unix.Mkdirat(parent, name, 0o755)
		unix.Close(parent)
		if err != nil && err != unix.EEXIST {
			return err
		}
		cur = path.Join(cur, name)
	}
	return nil
}

// SystemBus is the D-Bus address of the machine's system bus as a root
// process on the host reaches it: its socket through the root directory of
// the machine's PID 1. A connection made there is root's, as one made
// inside the machine would be.
func (m *Machine) SystemBus() string {
	return fmt.Sprintf("unix:path=/proc/%d/root/run/dbus/system_bus_socket", m.initPID)
}
