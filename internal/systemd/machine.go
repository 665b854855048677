package systemd

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// Machine implements heal.Systemd. The machine's totals are those of the
// root of the cgroup tree the daemon sees — the whole machine on a host,
// the container in a container — falling back to /proc/stat and
// /proc/meminfo where the root has no accounting files (cgroup v2's real
// root has no memory.current). The groups are every cgroup that holds
// processes outside system services: each user-UID.slice, scopes under
// system.slice (systemd-run --scope), and whatever else sits at the top
// (init.scope, machine.slice, other managers' trees).
func (m *Manager) Machine(ctx context.Context) (heal.Machine, error) {
	out := heal.Machine{CPUBusyNSec: heal.Unset, MemoryUsed: heal.Unset}
	m.fromCgroup("/", &out.CPUBusyNSec, &out.MemoryUsed)
	if out.CPUBusyNSec == heal.Unset {
		if v, ok := procStatBusy("/proc/stat"); ok {
			out.CPUBusyNSec = v
		}
	}
	if out.MemoryUsed == heal.Unset {
		if v, ok := memInUse("/proc/meminfo"); ok {
			out.MemoryUsed = v
		}
	}
	tree := m.tree()
	if tree == "" {
		return out, nil
	}
	add := func(rel string) {
		if ctx.Err() != nil {
			return
		}
		u := heal.Usage{Unit: filepath.Base(rel), CPUUsageNSec: heal.Unset, MemoryCurrent: heal.Unset}
		m.fromCgroup(rel, &u.CPUUsageNSec, &u.MemoryCurrent)
		if u.CPUUsageNSec != heal.Unset || u.MemoryCurrent != heal.Unset {
			out.Groups = append(out.Groups, u)
		}
	}
	for _, top := range subdirs(tree) {
		switch top {
		case "system.slice":
			// Its services are the services; a scope here is a
			// command someone ran with systemd-run --scope.
			for _, c := range subdirs(filepath.Join(tree, top)) {
				if strings.HasSuffix(c, ".scope") {
					add("/" + top + "/" + c)
				}
			}
		case "user.slice":
			for _, c := range subdirs(filepath.Join(tree, top)) {
				add("/" + top + "/" + c)
			}
		default:
			add("/" + top)
		}
	}
	return out, ctx.Err()
}

// tree is a hierarchy that shows systemd's cgroup tree: cgroup v2, the
// unified hierarchy of a hybrid system, or v1's name=systemd.
func (m *Manager) tree() string {
	for _, d := range []string{m.cgroups, filepath.Join(m.cgroups, "unified"), filepath.Join(m.cgroups, "systemd")} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			return d
		}
	}
	return ""
}

func subdirs(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// procStatBusy is the machine's busy CPU time in nanoseconds: every column
// of /proc/stat's cpu line but idle and iowait (guest time is already in
// user). The kernel reports it in USER_HZ, 100 per second on Linux.
func procStatBusy(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy uint64
	for i, col := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest, guest_nice
			continue
		}
		n, err := strconv.ParseUint(col, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return busy * 1e7, true
}

// memInUse is MemTotal − MemAvailable from /proc/meminfo, in bytes.
func memInUse(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var total, avail uint64
	var haveT, haveA bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total, haveT = n<<10, true
		case "MemAvailable:":
			avail, haveA = n<<10, true
		}
	}
	if !haveT || !haveA || avail > total {
		return 0, false
	}
	return total - avail, true
}
