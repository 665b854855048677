package testbed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// leftoverGrace is how old a machine directory without a lock file must be
// before it counts as a leftover; younger ones may be booting right now.
const leftoverGrace = time.Minute

// removeLeftovers removes the machines that earlier runs left behind when
// they crashed before Close: directories named lhsd.* in the temporary
// directory whose lock nobody holds and which no process uses, and the
// cgroups listed in their plan files (killing what still runs in them). It
// returns the directories it removed and reports the ones it could not
// remove through logf.
func removeLeftovers(logf func(format string, args ...any)) []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), namePrefix+"*"))
	var removed []string
	for _, dir := range dirs {
		ok, err := removeLeftover(dir)
		switch {
		case err != nil:
			logf("testbed: leftover %s not removed: %v", dir, err)
		case ok:
			removed = append(removed, dir)
		}
	}
	return removed
}

func removeLeftover(dir string) (bool, error) {
	st, err := os.Lstat(dir)
	if err != nil || !st.IsDir() {
		return false, nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not started by this package, or crashed before taking the lock.
		if time.Since(st.ModTime()) < leftoverGrace {
			return false, nil
		}
	case err != nil:
		return false, err
	default:
		defer lock.Close()
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return false, nil // a live machine of another test process
		}
	}
	cgroups, err := readPlanCgroups(filepath.Join(dir, "plan"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if len(cgroups) == 0 {
		// Without a plan there are no cgroups to find its processes by, so
		// leave it alone while anything is chrooted into it, such as a
		// machine booted by hand with the recipe.
		if pid := processUsing(filepath.Join(dir, "merged")); pid > 0 {
			return false, fmt.Errorf("in use by PID %d", pid)
		}
	}
	return true, removeMachineDir(dir, cgroups)
}

// removeMachineDir removes what a machine leaves on the host once its
// init is dead: any process still in its cgroups, the cgroups, and its
// directory. It refuses to remove the directory while anything is mounted
// below it in the host's mount namespace.
func removeMachineDir(dir string, cgroups []string) error {
	var errs []error
	if len(cgroups) > 0 {
		if err := removeCgroups(cgroups, stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, mi := range mounts {
		if mi.mountpoint == dir || strings.HasPrefix(mi.mountpoint, dir+"/") {
			return errors.Join(append(errs, fmt.Errorf("%s is mounted on the host; not removing %s", mi.mountpoint, dir))...)
		}
	}
	if len(errs) > 0 {
		// Keep the directory and its plan so the next Boot can retry.
		return errors.Join(errs...)
	}
	if err := removeTreeOneFS(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// removeTreeOneFS is os.RemoveAll that refuses to cross into another file
// system, so a mount it did not expect can never make it delete the host's
// files.
func removeTreeOneFS(dir string) error {
	var top unix.Stat_t
	if err := unix.Lstat(dir, &top); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	var walk func(p string) error
	walk = func(p string) error {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Dev != top.Dev {
			return fmt.Errorf("%s is on another file system", p)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := walk(filepath.Join(p, e.Name())); err != nil {
					return err
				}
			}
			return syscall.Rmdir(p)
		}
		return syscall.Unlink(p)
	}
	return walk(dir)
}

// processUsing returns a process whose root or working directory is dir or
// below it, or 0.
func processUsing(dir string) int {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		var pid int
		if _, err := fmt.Sscan(p.Name(), &pid); err != nil {
			continue
		}
		for _, link := range []string{"root", "cwd"} {
			target, err := os.Readlink(filepath.Join("/proc", p.Name(), link))
			if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
				return pid
			}
		}
	}
	return 0
}
