package detect

import (
	"context"
	"fmt"
	"os"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/disk"
	"golang.org/x/sys/unix"
)

// DefaultMounts returns the mounts watched when the configuration names
// none: "/", then "/nix" and "/boot" where they are mount points of their
// own. Other mounts, such as /boot/efi or NixOS's read-only bind mount of
// /nix/store, are left out.
//
// It runs once at start and on reload, with no time budget, so it uses
// gopsutil's mount table reader (<procRoot>/1/mountinfo, else
// <procRoot>/self/mountinfo); the sampling pass does not (docs/dependencies.md).
func DefaultMounts(procRoot string) ([]string, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	ctx := context.WithValue(context.Background(), common.EnvKey, common.EnvMap{common.HostProcEnvKey: procRoot})
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("default mounts: %w", err)
	}
	var nix, boot bool
	for _, p := range parts {
		switch p.Mountpoint {
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
