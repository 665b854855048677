package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Install runs "make -C repoDir install PREFIX=/usr DESTDIR=" as root inside
// the machine, then reloads systemd and the system bus so the installed
// units, bus policy and activation files take effect (polkitd notices new
// actions by itself). It fails the test if any step fails.
//
// The machine sees repoDir at the same path through an overlay of its own:
// whatever make writes, in the repository or elsewhere, stays in the machine.
// The Go toolchain in /usr/local/go and the caller's Go caches and settings
// ($GOCACHE, $GOMODCACHE, $GOFLAGS, …) are used; the machine has no network.
func (m *Machine) Install(t testing.TB, repoDir string) {
	t.Helper()
	ctx := t.Context()
	dir, err := filepath.Abs(repoDir)
	if err == nil {
		// Symlink-free, so the path means the same on the host and in
		// the machine.
		dir, err = filepath.EvalSymlinks(dir)
	}
	if err != nil {
		t.Fatalf("testbed: install: %v", err)
	}
	if err := m.overlayHostDir(ctx, dir); err != nil {
		t.Fatalf("testbed: install: %v", err)
	}
	env := append([]string{"PATH=" + machinePath + ":/usr/local/go/bin"}, rootEnv[1:]...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") {
			env = append(env, kv)
		}
	}
	cmd := m.Command(ctx, "", "make", "-C", dir, "install", "PREFIX=/usr", "DESTDIR=")
	cmd.Env = env
	if out, err := m.combinedOutput(cmd); err != nil {
		t.Fatalf("testbed: install %s in %s: %v\n%s", dir, m.name, err, out)
	}
	m.MustRun(t, "systemctl", "daemon-reload")
	m.MustRun(t, "busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig")
}

// overlayHostDir makes the host's directory dir visible at the same path in
// the machine, through an overlay whose writes go to the machine's tmpfs.
// The root overlay alone would not do: it hides /tmp, where t.TempDir lives.
func (m *Machine) overlayHostDir(ctx context.Context, dir string) error {
	if strings.ContainsAny(dir, ",:\\ \t\n") {
		return fmt.Errorf("cannot overlay %q: the path has a character overlayfs options cannot hold", dir)
	}
	m.overlayMu.Lock()
	defer m.overlayMu.Unlock()
	if m.overlay[dir] {
		return nil
	}
	if err := m.mkdirAll(dir); err != nil {
		return err
	}
	// Run in the machine's mount namespace but not chrooted, where the
	// host's directories and the machine's layers are both at their host
	// paths.
	layer := fmt.Sprintf("%s/layers/dir%d", m.dir, len(m.overlay))
	script := `set -e
mkdir -p "$3/upper" "$3/work"
mount -t overlay -o "lowerdir=$1,upperdir=$3/upper,workdir=$3/work" lhsd-dir "$2$1"`
	cmd := exec.CommandContext(ctx, "nsenter", "--mount=/proc/self/fd/3", "--",
		"/bin/sh", "-c", script, "sh", dir, m.dir+"/merged", layer)
	cmd.Env = rootEnv
	m.mu.RLock()
	cmd.ExtraFiles = m.nsFiles
	m.mu.RUnlock()
	if cmd.ExtraFiles == nil {
		return ErrStopped
	}
	if out, err := m.combinedOutput(cmd); err != nil {
		return fmt.Errorf("overlay %s: %w: %s", dir, err, out)
	}
	m.overlay[dir] = true
	return nil
}

var validUserName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// AddUser creates an unprivileged user with a home directory and a group of
// its own inside the machine, and makes it a member of groups, creating
// those that do not exist (Debian has no wheel group, for one).
func (m *Machine) AddUser(ctx context.Context, name string, groups ...string) error {
	for _, n := range append([]string{name}, groups...) {
		if !validUserName.MatchString(n) {
			return fmt.Errorf("testbed: add user: invalid name %q", n)
		}
	}
	script := `set -e
user=$1; shift
for g; do getent group "$g" >/dev/null || groupadd "$g"; done
groups=$(IFS=,; echo "$*")
useradd --create-home --shell /bin/bash --user-group ${groups:+--groups "$groups"} "$user"`
	_, _, err := m.Run(ctx, append([]string{"/bin/sh", "-c", script, "sh", name}, groups...)...)
	return err
}

// JournalEntry is one journal entry as journalctl -o json prints it: field
// names to values, which are strings, byte arrays or, for fields that occur
// more than once, arrays of those.
type JournalEntry map[string]any

// Field returns the entry's field name as a string: the first value of a
// repeated field, bytes as text, "" when absent.
func (e JournalEntry) Field(name string) string {
	return journalString(e[name])
}

func journalString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		if len(v) == 0 {
			return ""
		}
		if _, ok := v[0].(float64); !ok {
			return journalString(v[0])
		}
		b := make([]byte, 0, len(v))
		for _, x := range v {
			f, ok := x.(float64)
			if !ok {
				return ""
			}
			b = append(b, byte(f))
		}
		return string(b)
	}
	return ""
}

// Journal returns the machine's journal entries logged at or after since,
// oldest first: those of unit (journalctl -u: the unit's own messages and
// systemd's about it), or all of them when unit is "".
func (m *Machine) Journal(ctx context.Context, unit string, since time.Time) ([]JournalEntry, error) {
	// Make sure whatever journald has received is in its files.
	_, _, _ = m.Run(ctx, "journalctl", "--sync")
	args := []string{"journalctl", "--no-pager", "-o", "json",
		"--since", "@" + strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', 6, 64)}
	if unit != "" {
		args = append(args, "-u", unit)
	}
	out, _, err := m.Run(ctx, args...)
	if err != nil {
		return nil, err
	}
	var entries []JournalEntry
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var e JournalEntry
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return entries, nil
			}
			return entries, fmt.Errorf("testbed: journal of %s: %w", m.name, err)
		}
		entries = append(entries, e)
	}
}

func (m *Machine) combinedOutput(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := m.startAndWait(cmd)
	return strings.TrimSpace(out.String()), err
}
