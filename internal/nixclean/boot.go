package nixclean

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// bootState is /boot as the cleanup found it, before the bootloader runs.
type bootState struct {
	report *BootReport
	// files are /boot's regular files and their sizes, relative to Dir.
	files map[string]uint64
	// protect maps the files of the current, running and booted
	// generations to the store file each is a copy of.
	protect map[string]string
	// keptItems are the store items (<hash>-<name>) whose kernels and
	// initrds the kept generations boot.
	keptItems map[string]bool
	switcher  string
}

// bootInputs are the files of a system generation that a bootloader
// copies to /boot.
var bootInputs = []string{"kernel", "initrd"}

// storeFile matches a file that a NixOS bootloader copied to /boot: the
// store item's name (hash and name) leads, as systemd-boot's
// EFI/nixos/<hash>-linux-6.6-bzImage.efi and GRUB's kernels/<hash>-… do.
var storeFile = regexp.MustCompile(`^([0-9a-df-np-sv-z]{32}-[^/]*)$`)

// bootCheck reads /boot and decides whether installing the bootloader again
// can succeed: every kept generation's kernel and initrd that /boot lacks
// must fit in its free space, with 1 MiB to spare for the entries.
func (r *runner) bootCheck(kept []Generation, pins []Pin) (*bootState, error) {
	st := &bootState{report: &BootReport{Dir: r.o.BootDir}, protect: map[string]string{}, keptItems: map[string]bool{}}
	if r.o.BootDir == "" {
		st.report.Skipped = "no boot directory configured"
		return st, nil
	}
	if fi, err := os.Stat(r.o.BootDir); err != nil || !fi.IsDir() {
		st.report.Skipped = r.o.BootDir + " does not exist"
		return st, nil
	}
	st.switcher = filepath.Join(r.o.SystemProfile, "bin", "switch-to-configuration")
	if fi, err := os.Stat(st.switcher); err != nil || fi.Mode()&0o111 == 0 {
		st.report.Skipped = "the system profile has no bin/switch-to-configuration (not NixOS?)"
		return st, nil
	}
	files, err := scanBoot(r.o.BootDir)
	if err != nil {
		st.report.Skipped = err.Error()
		return st, fmt.Errorf("boot: %w", err)
	}
	st.files = files
	onBoot := func(item string) []string {
		var rels []string
		for rel := range files {
			if strings.HasPrefix(filepath.Base(rel), item+"-") {
				rels = append(rels, rel)
			}
		}
		return rels
	}

	var need uint64 = 1 << 20
	for _, g := range kept {
		for _, in := range bootInputs {
			src, item := r.storeInput(g.Target, in)
			if item == "" {
				continue
			}
			st.keptItems[item] = true
			if len(onBoot(item)) == 0 {
				if fi, err := os.Stat(src); err == nil {
					need += uint64(fi.Size())
				}
			}
		}
	}
	// The generations that must never lose their files.
	var protect []string
	for _, p := range pins {
		protect = append(protect, p.Target)
	}
	if t := Resolve(r.o.SystemProfile); t != "" {
		protect = append(protect, t)
	}
	for _, t := range protect {
		if t == "" {
			continue
		}
		for _, in := range bootInputs {
			src, item := r.storeInput(t, in)
			if item == "" {
				continue
			}
			st.keptItems[item] = true
			for _, rel := range onBoot(item) {
				st.protect[rel] = src
			}
		}
	}

	for rel, size := range files {
		m := storeFile.FindStringSubmatch(filepath.Base(rel))
		if m == nil || st.kept(m[1]) {
			continue
		}
		if r.o.DryRun {
			st.report.Removed = append(st.report.Removed, rel)
			st.report.FreedBytes += size
		}
	}
	slices.Sort(st.report.Removed)
	if r.o.DryRun && st.report.FreedBytes > 0 {
		r.rep.FreedBytes[MountOf(r.o.BootDir)] += st.report.FreedBytes
	}

	free, err := r.free(r.o.BootDir)
	if err != nil {
		return st, fmt.Errorf("boot: %w", err)
	}
	if free < need {
		st.report.Skipped = fmt.Sprintf("%s has %s free, and installing the bootloader again needs %s; nothing in it was touched",
			r.o.BootDir, FormatBytes(free), FormatBytes(need))
		return st, fmt.Errorf("boot: %s", st.report.Skipped)
	}
	return st, nil
}

// freeSpace is the space an unprivileged writer may still use in dir.
func freeSpace(dir string) (uint64, error) {
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return sfs.Bavail * uint64(sfs.Bsize), nil
}

// kept reports whether a /boot file named after a store item belongs to a
// kept generation: the item is that generation's kernel's or initrd's.
func (st *bootState) kept(name string) bool {
	for item := range st.keptItems {
		if strings.HasPrefix(name, item+"-") {
			return true
		}
	}
	return false
}

// storeInput resolves a generation's kernel or initrd to the store file and
// the store item (<hash>-<name>) holding it.
func (r *runner) storeInput(target, input string) (src, item string) {
	src, err := filepath.EvalSymlinks(filepath.Join(target, input))
	if err != nil {
		return "", ""
	}
	store := r.store
	if s, err := filepath.EvalSymlinks(store); err == nil {
		store = s
	}
	rel, err := filepath.Rel(store, src)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", ""
	}
	return src, strings.SplitN(rel, string(filepath.Separator), 2)[0]
}

// reinstallBootloader runs the system profile's switch-to-configuration
// boot — what `nixos-rebuild boot` runs — so that the bootloader writes
// entries for the remaining generations and prunes the files of the
// deleted ones. Files of the current, running and booted generations that
// it removed anyway are copied back from the store.
func (r *runner) reinstallBootloader(ctx context.Context, st *bootState) error {
	_, _, runErr := r.cmd(ctx, st.switcher, "boot")
	st.report.Ran = true
	after, err := scanBoot(r.o.BootDir)
	if err != nil {
		return fmt.Errorf("boot: after the bootloader: %w", err)
	}
	var errs []error
	if runErr != nil {
		errs = append(errs, fmt.Errorf("boot: %w", runErr))
	}
	for rel, src := range st.protect {
		if _, ok := after[rel]; ok {
			continue
		}
		if err := copyFile(src, filepath.Join(r.o.BootDir, rel)); err != nil {
			errs = append(errs, fmt.Errorf("boot: restore %s: %w", rel, err))
			continue
		}
		st.report.Restored = append(st.report.Restored, rel)
		after[rel] = st.files[rel]
	}
	slices.Sort(st.report.Restored)
	var removed, added uint64
	for rel, size := range st.files {
		if _, ok := after[rel]; !ok {
			st.report.Removed = append(st.report.Removed, rel)
			removed += size
		}
	}
	for rel, size := range after {
		if _, ok := st.files[rel]; !ok {
			added += size
		}
	}
	slices.Sort(st.report.Removed)
	if removed > added {
		st.report.FreedBytes = removed - added
		r.rep.FreedBytes[MountOf(r.o.BootDir)] += st.report.FreedBytes
	}
	return errors.Join(errs...)
}

// scanBoot lists the regular files under dir with their sizes.
func scanBoot(dir string) (map[string]uint64, error) {
	files := map[string]uint64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = uint64(fi.Size())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return files, nil
}

// copyFile copies src to dst through a temporary file in dst's directory,
// so that dst is either whole or absent.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
