// Package detect samples the machine's resources and decides, with
// hysteresis, when a reading becomes an issue and when it clears.
//
// Each signal lives in its own file and registers a collector in the
// collectors table from init, in the style of node_exporter's collector
// package; /proc and /sys are read below an injectable root so every
// collector runs against the fixtures in testdata/. Units are not sampled
// here: their state comes from systemd's signals (internal/systemd).
//
// It imports only the shared leaf packages; the engine imports it.
package detect

import (
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// Reading is one sampled value of one series.
type Reading struct {
	// ID is the series id, which is also the id of the issue it would
	// open: "cpu", "memory", "load", "disk:/nix", "inodes:/nix",
	// "pressure:io".
	ID      string
	Kind    issue.Kind
	Subject string  // the mount or pressure resource; the kind otherwise
	Value   float64 // percent, except the load average
}

// Mount is the byte and inode count of one watched mount, kept beside its
// readings so cleanup can report bytes freed and prediction can work in bytes.
type Mount struct {
	Path                    string
	TotalBytes, FreeBytes   uint64 // FreeBytes is what unprivileged users may still use
	UsedBytes               uint64 // blocks in use; TotalBytes − UsedBytes − FreeBytes is the root reserve
	TotalInodes, FreeInodes uint64 // TotalInodes is 0 where the filesystem has no fixed inode table (btrfs)
}

// UsedPercent is the share of the space unprivileged users can have that is
// in use, as df shows it: the root reserve counts neither as used nor as
// available. ok is false for a filesystem without blocks.
func (m Mount) UsedPercent() (pct float64, ok bool) {
	room := m.UsedBytes + m.FreeBytes
	if room == 0 {
		return 0, false
	}
	return 100 * float64(m.UsedBytes) / float64(room), true
}

// InodesUsedPercent is the share of inodes in use. ok is false where the
// filesystem reports no inodes (btrfs allocates them dynamically).
func (m Mount) InodesUsedPercent() (pct float64, ok bool) {
	if m.TotalInodes == 0 {
		return 0, false
	}
	used := m.TotalInodes - min(m.FreeInodes, m.TotalInodes)
	return 100 * float64(used) / float64(m.TotalInodes), true
}

// Snapshot is one sampling pass.
type Snapshot struct {
	Time     time.Time
	Readings []Reading
	Mounts   []Mount
}

// Get returns the reading with the given id.
func (s *Snapshot) Get(id string) (Reading, bool) {
	for _, r := range s.Readings {
		if r.ID == id {
			return r, true
		}
	}
	return Reading{}, false
}
