package heal

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/nixclean"
)

func init() { register(issue.Cleanup, cleanup{}) }

// cleanup frees disk space by starting the cleanup units in order, each job
// awaited, and reports the bytes freed per watched mount: free space after
// minus before, or what a unit's result file says it freed where that is
// more (other writers fill the disk meanwhile; that is why it is full).
type cleanup struct{}

func (cleanup) plan(ctx context.Context, e *env, req Request) (step, error) {
	mount := ""
	if req.Issue.Kind == issue.Disk {
		mount = req.Issue.Subject
	}
	units, err := e.cleanupUnits(ctx, mount)
	if err != nil {
		return step{}, err
	}
	describe := "start " + strings.Join(units, ", ")
	if slices.Contains(units, NixCleanupUnit) {
		if nix := e.nixPlan(ctx); nix != "" {
			describe += " (" + nix + ")"
		}
	}
	st := step{units: units, describe: describe}
	st.run = func(ctx context.Context, res *Result) {
		before, err := e.free(ctx)
		if err != nil {
			res.fail("could not measure free space: %v", err)
			return
		}
		started := time.Now()
		var failed, said []string
		var reports []unitReport
		for _, u := range units {
			ch := make(chan string, 1)
			if err := e.sd().Start(ctx, u, ch); err != nil {
				failed = append(failed, fmt.Sprintf("%s (%v)", u, err))
				continue
			}
			r, err := waitJob(ctx, ch)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s (%v)", u, err))
				break // the context is gone: no point starting more
			}
			if r != "done" {
				failed = append(failed, fmt.Sprintf("%s (job %s)", u, r))
			}
			// A failed unit may still have freed something and said so.
			if rep, err := e.unitResult(ctx, u, started); err != nil {
				said = append(said, fmt.Sprintf("%s: unreadable result (%v)", u, err))
			} else if rep != nil {
				reports = append(reports, *rep)
				if rep.Summary != "" {
					said = append(said, u+": "+rep.Summary)
				}
			}
		}
		after, err := e.free(ctx)
		if err != nil {
			after = nil
		}
		res.FreedByMount = freedByMount(before, after, reports)
		for _, b := range res.FreedByMount {
			res.FreedBytes += b
		}
		msg := "cleanup freed " + freedLine(res.FreedBytes, res.FreedByMount)
		if len(said) > 0 {
			msg += "; " + strings.Join(said, "; ")
		}
		if len(failed) > 0 {
			res.fail("%s; failed: %s", msg, strings.Join(failed, ", "))
			return
		}
		res.succeed("%s", msg)
	}
	return st, nil
}

// cleanupUnits returns the units for a cleanup of mount ("" for every
// watched mount): the mount's own configured list, else the configured
// list, else the built-in ones that exist here — the mount's
// (DefaultMountCleanupUnits), or failing those the general list.
func (e *env) cleanupUnits(ctx context.Context, mount string) ([]string, error) {
	if units, ok := e.s.MountCleanupUnits[mount]; ok && mount != "" {
		if len(units) == 0 {
			return nil, fmt.Errorf("%w: healing.mount_cleanup_units names no unit for %s", ErrNoAction, mount)
		}
		return units, nil
	}
	if e.s.CleanupUnits != nil {
		if len(e.s.CleanupUnits) == 0 {
			return nil, fmt.Errorf("%w: healing.cleanup_units is empty", ErrNoAction)
		}
		return e.s.CleanupUnits, nil
	}
	if e.sd() == nil {
		return DefaultCleanupUnits[:1], nil // dry-run without systemd: plan blind
	}
	if own := DefaultMountCleanupUnits[mount]; len(own) > 0 {
		units, err := e.existing(ctx, own)
		if err != nil || len(units) > 0 {
			return units, err
		}
	}
	units, err := e.existing(ctx, DefaultCleanupUnits)
	if err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("%w: none of the default cleanup units exist here; set healing.cleanup_units", ErrNoAction)
	}
	return units, nil
}

// existing filters units to those systemd has loaded. The nix cleanup
// unit counts only where there is a system profile to clean: elsewhere
// (make install on another distribution) its condition would skip it
// anyway, after a start for nothing.
func (e *env) existing(ctx context.Context, units []string) ([]string, error) {
	var out []string
	for _, u := range units {
		if u == NixCleanupUnit && e.s.Nix.SystemProfile != "" {
			if _, err := os.Lstat(e.s.Nix.SystemProfile); err != nil {
				continue
			}
		}
		st, err := e.sd().Unit(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, u, err)
		}
		if st.LoadState == "loaded" {
			out = append(out, u)
		}
	}
	return out, nil
}

// nixPlan says which generations the nix cleanup unit would delete, read
// from the profiles without changing anything; in dry-run also roughly how
// many bytes that frees, which asks the Nix store. "" where there is no
// NixOS system profile.
func (e *env) nixPlan(ctx context.Context) string {
	o := e.s.Nix
	if o.Policy.Validate() != nil || o.SystemProfile == "" {
		return ""
	}
	if _, err := os.Lstat(o.SystemProfile); err != nil {
		return ""
	}
	if e.dry {
		o.DryRun = true
		rep, err := nixclean.Run(ctx, o)
		if err != nil {
			return rep.Summary + "; bytes unknown: " + err.Error()
		}
		var total uint64
		for _, b := range rep.FreedBytes {
			total += b
		}
		return rep.Summary + "; about " + freedLine(total, rep.FreedBytes)
	}
	profiles, err := nixclean.Plan(o, time.Now())
	if err != nil {
		return "generations unknown: " + err.Error()
	}
	var parts []string
	for _, p := range profiles {
		gs := make([]string, len(p.Deleted))
		for i, g := range p.Deleted {
			gs[i] = g.String()
		}
		if len(gs) > 0 {
			parts = append(parts, fmt.Sprintf("delete %s generations %s", filepath.Base(p.Profile), strings.Join(gs, ", ")))
		}
	}
	if len(parts) == 0 {
		return "no generation to delete"
	}
	return strings.Join(parts, "; ")
}

// freedLine prints a total and, where it helps, the mounts: "1.2 GiB
// (/nix 1.1 GiB, /boot 80.0 MiB)".
func freedLine(total uint64, byMount map[string]uint64) string {
	s := nixclean.FormatBytes(total)
	mounts := slices.Sorted(maps.Keys(byMount))
	var parts []string
	for _, m := range mounts {
		if byMount[m] > 0 {
			parts = append(parts, m+" "+nixclean.FormatBytes(byMount[m]))
		}
	}
	if len(parts) > 1 || (len(parts) == 1 && byMount[mounts[0]] != total) {
		s += " (" + strings.Join(parts, ", ") + ")"
	} else if len(parts) == 1 {
		s += " on " + strings.TrimSuffix(parts[0], " "+nixclean.FormatBytes(total))
	}
	return s
}

func (e *env) free(ctx context.Context) (map[string]uint64, error) {
	if e.h.freeBytes == nil {
		return map[string]uint64{}, nil
	}
	return e.h.freeBytes(ctx)
}
