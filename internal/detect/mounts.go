package detect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultMounts returns the mounts watched when the configuration names
// none: "/", then "/nix" and "/boot" where <procRoot>/self/mountinfo shows
// them as mount points of their own. Other mounts, such as /boot/efi or
// NixOS's read-only bind mount of /nix/store, are left out.
func DefaultMounts(procRoot string) ([]string, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	path := filepath.Join(procRoot, "self", "mountinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("default mounts: %w", err)
	}
	var nix, boot bool
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		// The fifth field is the mount point, with spaces and other
		// special characters octal-escaped (\040); the names looked for
		// have none.
		fields := bytes.Fields(line)
		if len(fields) < 5 || !bytes.HasPrefix(fields[4], []byte("/")) {
			return nil, fmt.Errorf("default mounts: %s line %d: not a mountinfo line: %.80q", path, n, line)
		}
		switch string(fields[4]) {
		case "/nix":
			nix = true
		case "/boot":
			boot = true
		}
	}
	mounts := []string{"/"}
	if nix {
		mounts = append(mounts, "/nix")
	}
	if boot {
		mounts = append(mounts, "/boot")
	}
	return mounts, nil
}

// statfs measures a mount with statfs(2).
func statfs(path string) (Mount, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Mount{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return mountFromStatfs(path, &st), nil
}

// mountFromStatfs converts statfs(2)'s block counts to bytes. Blocks are
// f_frsize bytes; kernels that leave it 0 mean f_bsize.
func mountFromStatfs(path string, st *unix.Statfs_t) Mount {
	size := uint64(st.Frsize)
	if size == 0 {
		size = uint64(st.Bsize)
	}
	free := min(st.Bfree, st.Blocks)
	return Mount{
		Path:        path,
		TotalBytes:  st.Blocks * size,
		FreeBytes:   min(st.Bavail, free) * size,
		UsedBytes:   (st.Blocks - free) * size,
		TotalInodes: st.Files,
		FreeInodes:  min(st.Ffree, st.Files),
	}
}
