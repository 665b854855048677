package heal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ResultFile is the name of the file a cleanup unit may leave in its
// RuntimeDirectory= to say what it freed (docs/cleanup.md):
//
//	{"invocation_id": "…", "finished": "2026-12-02T05:00:00Z",
//	 "freed_bytes": {"/nix": 1234, "/boot": 5678}, "summary": "one line"}
//
// The daemon takes it only when it finished after the cleanup started and,
// where systemd still reports the unit's InvocationID (it forgets it once a
// finished oneshot unit is unloaded), when invocation_id ($INVOCATION_ID in
// the unit) is that one.
const ResultFile = "result.json"

// unitReport is the part of a result file the daemon reads.
type unitReport struct {
	DryRun       bool              `json:"dry_run"`
	InvocationID string            `json:"invocation_id"`
	Finished     time.Time         `json:"finished"`
	FreedBytes   map[string]uint64 `json:"freed_bytes"`
	Summary      string            `json:"summary"`
}

// unitResult reads the result file the unit left for this run; nil when it
// left none.
func (e *env) unitResult(ctx context.Context, unit string, started time.Time) (*unitReport, error) {
	st, err := e.sd().Unit(ctx, unit)
	if err != nil || len(st.RuntimeDirectory) == 0 || !filepath.IsLocal(st.RuntimeDirectory[0]) {
		return nil, nil
	}
	root := e.s.RuntimeRoot
	if root == "" {
		root = "/run"
	}
	f, err := os.Open(filepath.Join(root, st.RuntimeDirectory[0], ResultFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r unitReport
	if err := json.NewDecoder(io.LimitReader(f, 4<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if r.Finished.Before(started) || r.DryRun {
		return nil, nil // an earlier run's, or one that freed nothing
	}
	if r.InvocationID != "" && st.InvocationID != "" && r.InvocationID != st.InvocationID {
		return nil, nil // another run's
	}
	// The summary reaches logs and terminals: one line, no control characters.
	r.Summary = oneLine(r.Summary, 2000)
	for m := range r.FreedBytes {
		if !filepath.IsAbs(m) || oneLine(m, 4096) != m {
			delete(r.FreedBytes, m)
		}
	}
	return &r, nil
}

// freedByMount is, per mount, the larger of the free space gained and what
// the units' result files say they freed there.
func freedByMount(before, after map[string]uint64, reports []unitReport) map[string]uint64 {
	out := map[string]uint64{}
	for m, b := range before {
		if a, ok := after[m]; ok && a > b {
			out[m] = a - b
		}
	}
	said := map[string]uint64{}
	for _, r := range reports {
		for m, b := range r.FreedBytes {
			said[m] += b
		}
	}
	for m, b := range said {
		if b > out[m] {
			out[m] = b
		}
	}
	for m, b := range out {
		if b == 0 {
			delete(out, m)
		}
	}
	return out
}

func oneLine(s string, limit int) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		out = append(out, r)
		if len(out) >= limit {
			break
		}
	}
	return string(out)
}
