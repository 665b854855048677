package detect

import (
	"errors"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register("disk", newDisk) }

// diskCollector measures each watched mount with statfs(2): the used share
// of its space, as df shows it, as series disk:<mount>, and the used share
// of its inodes as inodes:<mount>. Both have kind disk. A mount that cannot
// be measured is reported and skipped; the other mounts still are.
type diskCollector struct {
	statfs func(path string) (Mount, error)
	mounts []diskMount
}

// diskMount holds a mount's series ids, built once so a pass allocates none.
type diskMount struct {
	path, id, inodesID string
}

func newDisk(s *Sampler) (collector, error) {
	c := &diskCollector{statfs: s.statfs}
	for _, m := range s.mounts {
		c.mounts = append(c.mounts, diskMount{path: m, id: issue.ID(issue.Disk, m), inodesID: issue.InodesID(m)})
	}
	return c, nil
}

func (c *diskCollector) update(snap *Snapshot) error {
	var errs []error
	for _, dm := range c.mounts {
		m, err := c.statfs(dm.path)
		if err != nil {
			errs = append(errs, &SignalError{Signal: "disk", Mount: dm.path, Err: err})
			continue
		}
		m.Path = dm.path
		snap.Mounts = append(snap.Mounts, m)
		if pct, ok := m.UsedPercent(); ok {
			snap.Readings = append(snap.Readings, Reading{ID: dm.id, Kind: issue.Disk, Subject: dm.path, Value: pct})
		}
		if pct, ok := m.InodesUsedPercent(); ok {
			snap.Readings = append(snap.Readings, Reading{ID: dm.inodesID, Kind: issue.Disk, Subject: dm.path, Value: pct})
		}
	}
	return errors.Join(errs...)
}
