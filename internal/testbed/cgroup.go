package testbed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupRoot is where the host's hierarchies are mounted and where the
// machine finds its own.
const cgroupRoot = "/sys/fs/cgroup"

// hierarchy is one cgroup hierarchy of the host and the machine's own cgroup
// in it. The machine's init joins dir in every hierarchy and then unshares
// its cgroup namespace, so dir is the root of everything the inner systemd
// creates: removing dir's tree removes all of it, as systemd-nspawn does.
type hierarchy struct {
	dir        string // the machine's cgroup on the host, e.g. /sys/fs/cgroup/memory/…/lhsd.x
	fstype     string // "cgroup" or "cgroup2"
	mountpoint string // where the host mounts it, and where the machine will
	options    string // mount options naming the hierarchy, e.g. "cpu" or "none,name=systemd"
}

// cgroupPlan works out, for a machine called name, its cgroup in each of the
// caller's hierarchies and the lines of boot.sh's plan file.
func cgroupPlan(name string) ([]hierarchy, []string, error) {
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return nil, nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, nil, fmt.Errorf("read own cgroups: %w", err)
	}
	var hs []hierarchy
	for line := range strings.Lines(string(own)) {
		// "4:memory:/some/path" for v1, "0::/some/path" for v2.
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		h, ok := findHierarchy(mounts, parts[1], parts[2])
		if !ok {
			continue
		}
		h.dir = filepath.Join(h.dir, name)
		if strings.ContainsAny(h.dir, " \t\n") {
			return nil, nil, fmt.Errorf("cgroup path %q contains white space", h.dir)
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, nil, errors.New("no cgroup hierarchy is mounted")
	}

	var plan []string
	below := false
	for _, h := range hs {
		below = below || strings.HasPrefix(h.mountpoint, cgroupRoot+"/")
	}
	if below {
		plan = append(plan, "tmpfs "+cgroupRoot)
	}
	mounted := map[string]bool{}
	for _, h := range hs {
		plan = append(plan, fmt.Sprintf("cgroup %s %s %s %s", h.dir, h.fstype, h.mountpoint, h.options))
		mounted[filepath.Base(h.mountpoint)] = true
	}
	if below {
		// Keep the host's aliases such as cpu -> cpu,cpuacct, which
		// systemd expects on v1.
		entries, _ := os.ReadDir(cgroupRoot)
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			target, err := os.Readlink(filepath.Join(cgroupRoot, e.Name()))
			if err == nil && mounted[target] {
				plan = append(plan, fmt.Sprintf("link %s/%s %s", cgroupRoot, e.Name(), target))
			}
		}
		plan = append(plan, "ro "+cgroupRoot)
	}
	return hs, plan, nil
}

// findHierarchy finds the mount of the hierarchy listed as controllers in
// /proc/self/cgroup and the caller's cgroup path in it. Only hierarchies
// mounted under /sys/fs/cgroup are used: those are the ones systemd looks at.
func findHierarchy(mounts []mountInfo, controllers, path string) (hierarchy, bool) {
	want := strings.Split(controllers, ",")
	for _, mi := range mounts {
		if mi.mountpoint != cgroupRoot && !strings.HasPrefix(mi.mountpoint, cgroupRoot+"/") {
			continue
		}
		var h hierarchy
		switch {
		case controllers == "" && mi.fstype == "cgroup2":
			h = hierarchy{fstype: "cgroup2", options: "-"}
		case controllers != "" && mi.fstype == "cgroup":
			super := strings.Split(mi.superOptions, ",")
			if !containsAll(super, want) {
				continue
			}
			opts := controllers
			if len(want) == 1 && strings.HasPrefix(controllers, "name=") {
				opts = "none," + controllers
			}
			h = hierarchy{fstype: "cgroup", options: opts}
		default:
			continue
		}
		rel, ok := strings.CutPrefix(path, mi.root)
		if mi.root == "/" {
			rel, ok = path, true
		}
		if !ok {
			continue
		}
		h.mountpoint = mi.mountpoint
		h.dir = filepath.Join(mi.mountpoint, rel)
		return h, true
	}
	return hierarchy{}, false
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// createCgroups creates the machine's cgroup in every hierarchy. A v1 cpuset
// cgroup admits no task until it has CPUs and memory nodes, so those are
// copied from the parent.
func createCgroups(hs []hierarchy) error {
	for _, h := range hs {
		if err := os.Mkdir(h.dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if h.fstype != "cgroup" || !slices.Contains(strings.Split(h.options, ","), "cpuset") {
			continue
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(filepath.Dir(h.dir), f))
			if err != nil {
				return fmt.Errorf("create cgroup: %w", err)
			}
			if err := os.WriteFile(filepath.Join(h.dir, f), v, 0o644); err != nil {
				return fmt.Errorf("create cgroup: %w", err)
			}
		}
	}
	return nil
}

// readPlanCgroups returns the host cgroup directories listed in a machine's
// plan file.
func readPlanCgroups(planFile string) ([]string, error) {
	data, err := os.ReadFile(planFile)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "cgroup" {
			dirs = append(dirs, f[1])
		}
	}
	return dirs, nil
}

// removeCgroups kills every process left in the machine's cgroups, waits
// for them to go, and removes each cgroup tree depth-first.
func removeCgroups(dirs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, d := range dirs {
		if filepath.Base(d) == "" || !strings.HasPrefix(filepath.Base(d), namePrefix) {
			return fmt.Errorf("refusing to remove cgroup %s: not a testbed cgroup", d)
		}
	}
	for {
		pids := 0
		for _, d := range dirs {
			n, err := killCgroupTree(d)
			if err != nil {
				return err
			}
			pids += n
		}
		if pids == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in the machine's cgroups after %v", pids, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var errs []error
	for _, d := range dirs {
		if err := removeCgroupTree(d, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killCgroupTree sends SIGKILL to every process in the tree at dir and
// returns how many there were. cgroup v2's cgroup.kill does it atomically;
// v1 has only the per-process way.
func killCgroupTree(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for f := range strings.FieldsSeq(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid <= 0 {
				continue
			}
			n++
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return nil
	})
	if n > 0 {
		// Catches what was forked between reading and killing.
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	}
	if err != nil {
		return n, fmt.Errorf("kill cgroup %s: %w", dir, err)
	}
	return n, nil
}

// removeCgroupTree removes the cgroup at dir and everything below it,
// deepest first. A cgroup whose last process has just died can stay busy
// for a moment, so EBUSY is retried until deadline.
func removeCgroupTree(dir string, deadline time.Time) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	slices.Reverse(dirs) // children after their parents in walk order
	for _, d := range dirs {
		for {
			err := syscall.Rmdir(d)
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
	}
	return nil
}

// mountInfo is one line of /proc/<pid>/mountinfo.
type mountInfo struct {
	root         string
	mountpoint   string
	fstype       string
	superOptions string
}

func readMountInfo(path string) ([]mountInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	var ms []mountInfo
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		ms = append(ms, mountInfo{
			root:         unescapeMount(a[3]),
			mountpoint:   unescapeMount(a[4]),
			fstype:       b[0],
			superOptions: b[2],
		})
	}
	return ms, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
