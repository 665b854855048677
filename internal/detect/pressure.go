package detect

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register("pressure", newPressure) }

// pressureCollector gives PSI's "some avg10" for cpu, memory and io: the
// share of the last 10 seconds in which at least one task was stalled on
// that resource. Kernels before 4.20, or booted with psi=0, have no
// /proc/pressure; there the signal gives no readings and no error.
type pressureCollector struct {
	series []pressureSeries
}

type pressureSeries struct {
	id, resource string
	file         *procFile
}

func newPressure(s *Sampler) (collector, error) {
	c := &pressureCollector{}
	for _, res := range [...]string{"cpu", "memory", "io"} {
		f, err := s.openProc("pressure/"+res, 256)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// A kernel built with PSI but with it switched off answers reads
		// with EOPNOTSUPP; that is the same as no PSI.
		if _, err := f.read(); errors.Is(err, syscall.EOPNOTSUPP) {
			continue
		}
		c.series = append(c.series, pressureSeries{id: issue.ID(issue.Pressure, res), resource: res, file: f})
	}
	return c, nil
}

func (c *pressureCollector) update(snap *Snapshot) error {
	var errs []error
	for _, p := range c.series {
		data, err := p.file.read()
		if err == nil {
			var v float64
			if v, err = parsePressure(p.file.name, data); err == nil {
				snap.Readings = append(snap.Readings, Reading{ID: p.id, Kind: issue.Pressure, Subject: p.resource, Value: v})
				continue
			}
		}
		errs = append(errs, &SignalError{Signal: "pressure", Err: err})
	}
	return errors.Join(errs...)
}

// parsePressure reads avg10 from the "some" line:
//
//	some avg10=0.30 avg60=0.66 avg300=1.05 total=8367627
func parsePressure(file string, data []byte) (float64, error) {
	line, ok := firstLine(data)
	if !ok {
		return 0, malformed(file, data, "no complete first line")
	}
	kind, rest := nextField(line)
	if !bytes.Equal(kind, []byte("some")) {
		return 0, malformed(file, line, `first line is not the "some" line`)
	}
	f, _ := nextField(rest)
	v, ok := bytes.CutPrefix(f, []byte("avg10="))
	if !ok {
		return 0, malformed(file, line, "no avg10")
	}
	pct, err := parseFloat(v)
	if err != nil || pct > 100 {
		return 0, malformed(file, line, "bad avg10")
	}
	return pct, nil
}
