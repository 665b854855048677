package nixclean

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options is one cleanup: the policy, what it applies to, and which parts run.
type Options struct {
	Policy
	// SystemProfile is the NixOS system profile; "" leaves it alone.
	SystemProfile string
	// Profiles are further profiles (users') the policy applies to; none
	// by default.
	Profiles []string
	// CurrentSystem and BootedSystem are the links to the running and the
	// booted system; the generations they point to are always kept.
	CurrentSystem, BootedSystem string
	// Boot installs the bootloader again after deleting generations, so
	// that BootDir loses the deleted generations' kernels and initrds.
	Boot    bool
	BootDir string
	// Optimise hard-links identical files in the store after collecting.
	Optimise bool
	// DryRun changes nothing: the report says what would go.
	DryRun bool
	// StoreDir is the Nix store ("" = $NIX_STORE_DIR, else /nix/store).
	StoreDir string
	// Log receives the commands run and their output; nil discards it.
	Log io.Writer
	// Now is the clock for the age rule; nil is time.Now.
	Now func() time.Time

	freeSpace func(dir string) (uint64, error) // tests: a /boot that is full
}

// Report is what a cleanup did, or would do in dry-run. Its JSON form is the
// result file the cleanup unit leaves for the daemon (docs/cleanup.md); the
// daemon reads invocation_id, finished, freed_bytes and summary.
type Report struct {
	InvocationID string    `json:"invocation_id,omitempty"`
	DryRun       bool      `json:"dry_run"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	// Summary is one line for people.
	Summary string `json:"summary"`
	// FreedBytes is per mount point: freed, or in dry-run about to be.
	FreedBytes map[string]uint64 `json:"freed_bytes"`
	Profiles   []ProfileReport   `json:"profiles"`
	// StorePaths deleted (or that would be) and their bytes.
	StorePaths     int    `json:"store_paths"`
	StoreBytes     uint64 `json:"store_bytes"`
	OptimisedBytes uint64 `json:"optimised_bytes,omitempty"`
	// DeadPaths are the store paths deleted (or that would be), sorted.
	// Not in the JSON: a large collection has tens of thousands.
	DeadPaths []string    `json:"-"`
	Boot      *BootReport `json:"boot,omitempty"`
	Errors    []string    `json:"errors,omitempty"`
}

// ProfileReport lists one profile's generations by fate.
type ProfileReport struct {
	Profile string      `json:"profile"`
	Current int         `json:"current"`
	Deleted []GenReport `json:"deleted"`
	Kept    []GenReport `json:"kept"`
}

// GenReport is one generation in a report.
type GenReport struct {
	Number int       `json:"number"`
	Date   time.Time `json:"date"`
	Why    []string  `json:"why,omitempty"`
}

func (g GenReport) String() string {
	return fmt.Sprintf("%d (%s)", g.Number, g.Date.UTC().Format("2006-01-02"))
}

// BootReport is what happened to /boot.
type BootReport struct {
	Dir string `json:"dir"`
	Ran bool   `json:"ran"`
	// Skipped says why the bootloader was not installed again.
	Skipped string `json:"skipped,omitempty"`
	// Removed are the files that left /boot (in dry-run: that are of no
	// kept generation and would go), relative to Dir.
	Removed []string `json:"removed,omitempty"`
	// Restored are files of the current or booted generation that the
	// bootloader removed and the cleanup put back.
	Restored   []string `json:"restored,omitempty"`
	FreedBytes uint64   `json:"freed_bytes"`
}

// WriteFile writes the report as JSON to path atomically, readable by the
// daemon whatever user it runs as.
func (r *Report) WriteFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".result-*")
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write result: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write result: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write result: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

type runner struct {
	o     Options
	log   io.Writer
	store string
	rep   *Report
	free  func(dir string) (uint64, error)
}

// Run applies the policy: it deletes the generations no rule keeps, collects
// the store's garbage, optimises the store if asked, and installs the
// bootloader again. In dry-run it only reports what would go. The report is
// filled as far as the cleanup got; the error joins every step that failed.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Policy.Validate(); err != nil {
		return nil, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r := &runner{o: o, log: o.Log, store: o.StoreDir, free: freeSpace}
	if o.freeSpace != nil {
		r.free = o.freeSpace
	}
	if r.log == nil {
		r.log = io.Discard
	}
	if r.store == "" {
		r.store = os.Getenv("NIX_STORE_DIR")
	}
	if r.store == "" {
		r.store = "/nix/store"
	}
	r.rep = &Report{DryRun: o.DryRun, Started: now(), FreedBytes: map[string]uint64{}, Profiles: []ProfileReport{}}
	err := r.run(ctx, now())
	r.rep.Finished = now()
	if err != nil {
		r.rep.Errors = append(r.rep.Errors, err.Error())
	}
	r.rep.Summary = r.rep.summary()
	return r.rep, err
}

// Plan lists the generations of every profile in o and decides their
// fate, reading the profiles and changing nothing. It runs no Nix command.
func Plan(o Options, now time.Time) ([]ProfileReport, error) {
	plans, err := plan(o, now)
	out := make([]ProfileReport, len(plans))
	for i, p := range plans {
		out[i] = p.report
	}
	return out, err
}

type profilePlan struct {
	profile string
	gens    []Generation
	report  ProfileReport
}

func (o Options) pins() []Pin {
	return []Pin{{Resolve(o.CurrentSystem), "running"}, {Resolve(o.BootedSystem), "booted"}}
}

func plan(o Options, now time.Time) ([]profilePlan, error) {
	var errs []error
	var plans []profilePlan
	profiles := slices.Clone(o.Profiles)
	if o.SystemProfile != "" {
		profiles = append([]string{o.SystemProfile}, profiles...)
	}
	for _, p := range profiles {
		gens, current, err := Generations(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		var pp []Pin
		if p == o.SystemProfile {
			pp = o.pins()
		}
		gens = Decide(gens, current, o.Policy, now, pp...)
		// Empty lists, not null, for whoever reads the JSON.
		pr := ProfileReport{Profile: p, Current: current, Deleted: []GenReport{}, Kept: []GenReport{}}
		for _, g := range gens {
			gr := GenReport{Number: g.Number, Date: g.Time, Why: g.Why}
			if g.Keep {
				pr.Kept = append(pr.Kept, gr)
			} else {
				pr.Deleted = append(pr.Deleted, gr)
			}
		}
		plans = append(plans, profilePlan{p, gens, pr})
	}
	return plans, errors.Join(errs...)
}

func (r *runner) run(ctx context.Context, now time.Time) error {
	var errs []error
	pins := r.o.pins()
	plans, err := plan(r.o, now)
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range plans {
		r.rep.Profiles = append(r.rep.Profiles, p.report)
	}
	if len(plans) == 0 {
		// No profile to clean: the store is someone else's business here
		// (nix-bin on a distribution), so it is not collected either.
		return errors.Join(errs...)
	}

	var deleted, systemKept []Generation
	for _, p := range plans {
		for _, g := range p.gens {
			switch {
			case !g.Keep:
				deleted = append(deleted, g)
			case p.profile == r.o.SystemProfile:
				systemKept = append(systemKept, g)
			}
		}
	}

	bootOK := false
	var boot *bootState
	if r.o.Boot && r.o.SystemProfile != "" {
		var err error
		boot, err = r.bootCheck(systemKept, pins)
		r.rep.Boot = boot.report
		if err != nil {
			errs = append(errs, err)
		} else {
			bootOK = boot.report.Skipped == ""
		}
	}

	if r.o.DryRun {
		if err := r.estimateStore(ctx, deleted); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}

	for _, p := range plans {
		var nums []string
		for _, g := range p.gens {
			if !g.Keep {
				nums = append(nums, strconv.Itoa(g.Number))
			}
		}
		if len(nums) == 0 {
			continue
		}
		if p.profile != r.o.SystemProfile {
			if err := r.unlinkGenerations(p); err != nil {
				errs = append(errs, fmt.Errorf("delete generations of %s: %w", p.profile, err))
			}
			continue
		}
		args := append([]string{"-p", p.profile, "--delete-generations"}, nums...)
		if _, _, err := r.cmd(ctx, "nix-env", args...); err != nil {
			errs = append(errs, fmt.Errorf("delete generations of %s: %w", p.profile, err))
		}
	}
	if err := r.collect(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.o.Optimise {
		if err := r.optimise(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if bootOK {
		if err := r.reinstallBootloader(ctx, boot); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unlinkGenerations deletes a user's profile generations by removing their
// links, as nix-env does, but without nix-env: run as root in a directory
// its user owns, nix-env would follow a link planted as <profile>.lock and
// create that file wherever it points. unlink never follows a link and
// only ever removes an entry of the user's own directory. The profile's
// current generation is read again just before, and never removed.
func (r *runner) unlinkGenerations(p profilePlan) error {
	current := ""
	if t, err := os.Readlink(p.profile); err == nil {
		current = filepath.Base(t)
	}
	var errs []error
	for _, g := range p.gens {
		if g.Keep || filepath.Base(g.Link) == current {
			continue
		}
		fi, err := os.Lstat(g.Link)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // gone, or no longer a generation link
		}
		fmt.Fprintf(r.log, "+ rm %s\n", g.Link)
		if err := os.Remove(g.Link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cmd runs a command, logging it and its diagnostics; it returns stdout
// and stderr.
func (r *runner) cmd(ctx context.Context, name string, args ...string) (stdout, stderr string, err error) {
	fmt.Fprintf(r.log, "+ %s %s\n", name, strings.Join(args, " "))
	c := exec.CommandContext(ctx, name, args...)
	var out, diag bytes.Buffer
	c.Stdout = &out
	c.Stderr = io.MultiWriter(&diag, r.log)
	if err := c.Run(); err != nil {
		if msg := strings.TrimSpace(lastLine(diag.String())); msg != "" {
			return out.String(), diag.String(), fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return out.String(), diag.String(), fmt.Errorf("%s: %w", name, err)
	}
	return out.String(), diag.String(), nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var nixFreed = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) MiB freed`)

// collect runs the garbage collector. The bytes are measured on the dead
// paths before they go (disk blocks of files not hard-linked elsewhere),
// and taken from Nix's own count where that is larger (an optimised store
// frees hard-linked files when their last link goes).
func (r *runner) collect(ctx context.Context) error {
	stdout, _, err := r.cmd(ctx, "nix-store", "--gc", "--print-dead")
	if err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	dead := lines(stdout)
	sizes := map[string]uint64{}
	for _, p := range dead {
		sizes[p] = diskUsage(p)
	}
	_, stderr, err := r.cmd(ctx, "nix-store", "--gc")
	if err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	var measured uint64
	var gone []string
	for _, p := range dead {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			measured += sizes[p]
			gone = append(gone, p)
		}
	}
	slices.Sort(gone)
	reported := parseMiB(stderr, nixFreed)
	r.rep.StorePaths = len(gone)
	r.rep.DeadPaths = gone
	r.rep.StoreBytes = max(measured, reported)
	r.rep.FreedBytes[MountOf(r.store)] += r.rep.StoreBytes
	return nil
}

var optimisedRe = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) MiB freed by hard-linking`)

// optimise hard-links identical files in the store. What that gave back
// is measured as the store's disk usage before minus after (each inode
// counted once) — Nix prints it in hundredths of a MiB — or Nix's figure
// where that is larger. The walk costs less than the optimising itself,
// which reads every file.
func (r *runner) optimise(ctx context.Context) error {
	before := storeUsage(r.store)
	stdout, stderr, err := r.cmd(ctx, "nix-store", "--optimise")
	if err != nil {
		return fmt.Errorf("optimise the store: %w", err)
	}
	var measured uint64
	if after := storeUsage(r.store); after < before {
		measured = before - after
	}
	r.rep.OptimisedBytes = max(measured, parseMiB(stdout+stderr, optimisedRe))
	r.rep.FreedBytes[MountOf(r.store)] += r.rep.OptimisedBytes
	return nil
}

func parseMiB(s string, re *regexp.Regexp) uint64 {
	m := re.FindAllStringSubmatch(s, -1)
	if len(m) == 0 {
		return 0
	}
	f, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil || f < 0 {
		return 0
	}
	return uint64(f * 1024 * 1024)
}

// estimateStore says, without changing anything, which store paths the
// garbage collector would delete once the generations are gone: those dead
// now, and those of the deleted generations' closures that no remaining
// root reaches. Like Nix's collector with keep-derivations (the default,
// and NixOS's), a live path keeps the derivation that built it. The sizes
// are Nix's NAR sizes, close to what the paths take on disk.
func (r *runner) estimateStore(ctx context.Context, deleted []Generation) error {
	stdout, _, err := r.cmd(ctx, "nix-store", "--gc", "--print-roots")
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	gone := map[string]bool{}
	for _, g := range deleted {
		gone[g.Link] = true
	}
	var roots []string
	for _, l := range lines(stdout) {
		link, target, ok := strings.Cut(l, " -> ")
		if !ok || gone[link] {
			continue
		}
		roots = append(roots, target)
	}
	live, err := r.closureWithDerivers(ctx, roots)
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	var targets []string
	for _, g := range deleted {
		targets = append(targets, g.Target)
	}
	cand, err := r.closureWithDerivers(ctx, targets)
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	stdout, _, err = r.cmd(ctx, "nix-store", "--gc", "--print-dead")
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	for _, l := range lines(stdout) {
		cand[l] = true
	}
	var dead []string
	for p := range cand {
		if !live[p] {
			dead = append(dead, p)
		}
	}
	slices.Sort(dead)
	var total uint64
	if err := r.query(ctx, []string{"-q", "--size"}, dead, func(l string) {
		if n, err := strconv.ParseUint(l, 10, 64); err == nil {
			total += n
		}
	}); err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	r.rep.DeadPaths = dead
	r.rep.StorePaths = len(dead)
	r.rep.StoreBytes = total
	r.rep.FreedBytes[MountOf(r.store)] += total
	return nil
}

// closureWithDerivers is the closure of paths, plus the closures of the
// derivations that built any path in it and are still in the store.
func (r *runner) closureWithDerivers(ctx context.Context, paths []string) (map[string]bool, error) {
	set := map[string]bool{}
	if err := r.query(ctx, []string{"-qR"}, paths, func(l string) { set[l] = true }); err != nil {
		return nil, err
	}
	var derivers []string
	if err := r.query(ctx, []string{"-q", "--deriver"}, slices.Sorted(maps.Keys(set)), func(l string) {
		if _, err := os.Lstat(l); err == nil && !set[l] {
			derivers = append(derivers, l)
		}
	}); err != nil {
		return nil, err
	}
	slices.Sort(derivers)
	derivers = slices.Compact(derivers)
	if err := r.query(ctx, []string{"-qR"}, derivers, func(l string) { set[l] = true }); err != nil {
		return nil, err
	}
	return set, nil
}

// query runs nix-store with args over paths in chunks, calling each for
// every output line.
func (r *runner) query(ctx context.Context, args, paths []string, each func(string)) error {
	for len(paths) > 0 {
		n := min(len(paths), 500)
		stdout, _, err := r.cmd(ctx, "nix-store", append(slices.Clone(args), paths[:n]...)...)
		if err != nil {
			return err
		}
		for _, l := range lines(stdout) {
			each(l)
		}
		paths = paths[n:]
	}
	return nil
}

// diskUsage is the disk space a store path gives back when it is deleted:
// the blocks of everything in it, except files hard-linked elsewhere.
func diskUsage(path string) uint64 {
	return blocks(path, func(dir bool, st *syscall.Stat_t) bool { return dir || st.Nlink <= 1 })
}

// storeUsage is the disk space the store takes, each inode counted once
// (the optimiser's .links directory included).
func storeUsage(store string) uint64 {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	return blocks(store, func(_ bool, st *syscall.Stat_t) bool {
		k := inode{uint64(st.Dev), uint64(st.Ino)}
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	})
}

// blocks adds up the disk blocks of what lies below root that counts takes;
// what cannot be read is passed over (a store path may go meanwhile).
func blocks(root string, counts func(dir bool, st *syscall.Stat_t) bool) uint64 {
	var total uint64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && counts(d.IsDir(), st) {
			total += uint64(st.Blocks) * 512
		}
		return nil
	})
	return total
}

// MountOf returns the mount point of the file system path is on.
func MountOf(path string) string {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		p = filepath.Clean(path)
	}
	dev := func(p string) (uint64, bool) {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil {
			return 0, false
		}
		return uint64(st.Dev), true
	}
	d, ok := dev(p)
	if !ok {
		return p
	}
	for p != "/" {
		parent := filepath.Dir(p)
		pd, ok := dev(parent)
		if !ok || pd != d {
			return p
		}
		p = parent
	}
	return "/"
}

func (r *Report) summary() string {
	var parts []string
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
	}
	for _, p := range r.Profiles {
		if len(p.Deleted) == 0 {
			continue
		}
		gs := make([]string, len(p.Deleted))
		for i, g := range p.Deleted {
			gs[i] = g.String()
		}
		parts = append(parts, fmt.Sprintf("%s %s generations %s", verb, filepath.Base(p.Profile), strings.Join(gs, ", ")))
	}
	if len(parts) == 0 && len(r.Profiles) == 0 {
		parts = append(parts, "no profile to clean")
	} else if len(parts) == 0 {
		parts = append(parts, "no generation to delete")
	}
	if r.StorePaths > 0 {
		parts = append(parts, fmt.Sprintf("%d store paths (%s)", r.StorePaths, FormatBytes(r.StoreBytes)))
	}
	if r.OptimisedBytes > 0 {
		parts = append(parts, fmt.Sprintf("optimising freed %s", FormatBytes(r.OptimisedBytes)))
	}
	if b := r.Boot; b != nil {
		switch {
		case b.Skipped != "":
			parts = append(parts, "bootloader not installed again: "+b.Skipped)
		case len(b.Removed) > 0:
			parts = append(parts, fmt.Sprintf("%s: %d files (%s)", b.Dir, len(b.Removed), FormatBytes(b.FreedBytes)))
		}
	}
	return strings.Join(parts, "; ")
}

// FormatBytes prints a byte count for people: "1.5 GiB". The healing
// actions' texts (heal) use it too, so that a cleanup's report and the
// daemon's record of it print the same figure the same way.
func FormatBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
