package heal

import (
	"context"
	"fmt"
	"strings"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register(issue.Cleanup, cleanup{}) }

// cleanup frees disk space by starting the cleanup units in order, each job
// awaited, and reports the bytes freed across the watched mounts.
type cleanup struct{}

func (cleanup) plan(ctx context.Context, e *env, req Request) (step, error) {
	units, err := e.cleanupUnits(ctx)
	if err != nil {
		return step{}, err
	}
	st := step{units: units, describe: "start " + strings.Join(units, ", ")}
	st.run = func(ctx context.Context, res *Result) {
		before, err := e.free(ctx)
		if err != nil {
			res.fail("could not measure free space: %v", err)
			return
		}
		var failed []string
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
		}
		after, err := e.free(ctx)
		if err == nil {
			for m, b := range before {
				if a, ok := after[m]; ok && a > b {
					res.FreedBytes += a - b
				}
			}
		}
		if len(failed) > 0 {
			res.fail("cleanup freed %s; failed: %s", FormatBytes(res.FreedBytes), strings.Join(failed, ", "))
			return
		}
		res.succeed("cleanup freed %s", FormatBytes(res.FreedBytes))
	}
	return st, nil
}

// cleanupUnits returns the configured cleanup units, or the built-in list
// filtered to the units that exist.
func (e *env) cleanupUnits(ctx context.Context) ([]string, error) {
	if e.s.CleanupUnits != nil {
		if len(e.s.CleanupUnits) == 0 {
			return nil, fmt.Errorf("%w: healing.cleanup_units is empty", ErrNoAction)
		}
		return e.s.CleanupUnits, nil
	}
	if e.sd() == nil {
		return DefaultCleanupUnits[:1], nil // dry-run without systemd: plan blind
	}
	var units []string
	for _, u := range DefaultCleanupUnits {
		st, err := e.sd().Unit(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, u, err)
		}
		if st.LoadState == "loaded" {
			units = append(units, u)
		}
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("%w: none of the default cleanup units exist here; set healing.cleanup_units", ErrNoAction)
	}
	return units, nil
}

func (e *env) free(ctx context.Context) (map[string]uint64, error) {
	if e.h.freeBytes == nil {
		return map[string]uint64{}, nil
	}
	return e.h.freeBytes(ctx)
}

// FormatBytes prints a byte count for people: "1.5 GiB".
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
