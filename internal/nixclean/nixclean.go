// Package nixclean owns the NixOS-aware cleanup: which generations of a Nix
// profile a retention policy keeps, deleting the others, collecting the
// store's garbage, and installing the bootloader again so that /boot loses
// the kernels and initrds of the deleted generations — never those of the
// generations that are kept, current or booted.
//
// It is a leaf: it imports nothing of ours. `luminous-healingd nix-cleanup`
// (the luminous-healing-nix-cleanup.service unit) runs it as root; the heal
// package reads its plan, without changing anything, for dry-run.
package nixclean

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Default paths on NixOS.
const (
	SystemProfile = "/nix/var/nix/profiles/system"
	CurrentSystem = "/run/current-system"
	BootedSystem  = "/run/booted-system"
	BootDir       = "/boot"
)

// Policy says which generations stay. A generation is kept when any rule
// keeps it; the profile's current generation and the generations that are
// running or booted are always kept.
type Policy struct {
	// KeepGenerations newest generations of each profile are kept (≥ 1).
	KeepGenerations int
	// KeepFor: generations younger than this are kept; 0 turns the rule off.
	KeepFor time.Duration
}

// Validate reports a policy that could delete more than it should.
func (p Policy) Validate() error {
	if p.KeepGenerations < 1 {
		return fmt.Errorf("--keep-generations / keep_generations must be at least 1, got %d", p.KeepGenerations)
	}
	if p.KeepFor < 0 {
		return fmt.Errorf("--keep-days / keep_days must not be negative, got %s", p.KeepFor)
	}
	return nil
}

// Generation is one generation of a profile: the link
// <profile>-<number>-link next to the profile, as nix-env makes them.
type Generation struct {
	Number int
	// Link is the generation's link, e.g. /nix/var/nix/profiles/system-42-link.
	Link string
	// Target is the store path the link points to.
	Target string
	// Time is the link's own modification time: the generation's date, as
	// `nix-env --list-generations` shows it.
	Time time.Time
	// Keep is true when the policy keeps it; Why says which rules did.
	Keep bool
	Why  []string
}

// Date is the generation's date as reports print it.
func (g Generation) Date() string { return g.Time.UTC().Format("2006-01-02 15:04") }

func (g Generation) String() string { return fmt.Sprintf("%d (%s)", g.Number, g.Date()) }

// Generations lists a profile's generations, oldest first, and the number
// of its current one (0 when the profile link is missing or dangling).
func Generations(profile string) (gens []Generation, current int, err error) {
	dir, base := filepath.Split(profile)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("read profile directory: %w", err)
	}
	for _, e := range entries {
		n, ok := generationNumber(base, e.Name())
		if !ok || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		link := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(link)
		if err != nil {
			continue // deleted meanwhile
		}
		target, err := os.Readlink(link)
		if err != nil {
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		gens = append(gens, Generation{Number: n, Link: link, Target: target, Time: fi.ModTime()})
	}
	slices.SortFunc(gens, func(a, b Generation) int { return a.Number - b.Number })
	if t, err := os.Readlink(profile); err == nil {
		if n, ok := generationNumber(base, filepath.Base(t)); ok {
			current = n
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("read profile link: %w", err)
	}
	return gens, current, nil
}

// generationNumber parses "<base>-<n>-link".
func generationNumber(base, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, base+"-")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "-link")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// Pin is a store path that must stay with the reason it must, e.g.
// {"/nix/store/…-nixos-system-…", "booted"}.
type Pin struct {
	Target string
	Why    string
}

// Decide marks which generations the policy keeps. gens must be sorted
// oldest first. current is the profile's current generation. Each pinned
// store path (the running and the booted system) keeps the newest
// generation that points to it: older duplicates of it add no rollback.
// A generation is deleted only when no rule keeps it.
func Decide(gens []Generation, current int, p Policy, now time.Time, pinned ...Pin) []Generation {
	out := slices.Clone(gens)
	keep := func(g *Generation, why string) { g.Keep = true; g.Why = append(g.Why, why) }
	for i := range out {
		out[i].Keep, out[i].Why = false, nil
	}
	for i := range out {
		g := &out[i]
		if g.Number == current {
			keep(g, "current")
		}
	}
	for _, pin := range pinned {
		if pin.Target == "" {
			continue
		}
		for i := len(out) - 1; i >= 0; i-- {
			if samePath(out[i].Target, pin.Target) {
				keep(&out[i], pin.Why)
				break
			}
		}
	}
	for i := range out {
		g := &out[i]
		if len(out)-i <= p.KeepGenerations {
			keep(g, fmt.Sprintf("newest %d", p.KeepGenerations))
		}
		if p.KeepFor > 0 && now.Sub(g.Time) < p.KeepFor {
			keep(g, "younger than "+days(p.KeepFor))
		}
	}
	return out
}

// samePath compares two store paths, following links where it can.
func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Resolve follows a link such as /run/booted-system to its store path; ""
// when it does not exist (not NixOS, or a container that was never booted).
func Resolve(link string) string {
	if link == "" {
		return ""
	}
	p, err := filepath.EvalSymlinks(link)
	if err != nil {
		return ""
	}
	return p
}
