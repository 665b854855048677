package detect

import "github.com/luminous-healing/luminous-healing/internal/issue"

// valueSignal is a signal whose pass reads one value from the start of one
// /proc file (cpu, memory, load): the series, its kind and its subject all
// carry the kind's name. A file that cannot be read or parsed is the
// signal's error for that pass.
type valueSignal struct {
	kind  issue.Kind
	file  *procFile
	value valuer
}

// valuer turns the start of a signal's file into its value; ok is false on
// a pass that gives no reading without being wrong (cpu's first pass).
type valuer interface {
	value(file string, data []byte) (v float64, ok bool, err error)
}

// always is a valuer for a parser that reads its value on every pass.
type always func(file string, data []byte) (float64, error)

func (f always) value(file string, data []byte) (float64, bool, error) {
	v, err := f(file, data)
	return v, err == nil, err
}

// newValueSignal opens the signal's file below the proc root; size bounds
// how much of it a pass reads.
func newValueSignal(s *Sampler, kind issue.Kind, name string, size int, v valuer) (collector, error) {
	f, err := s.openProc(name, size)
	if err != nil {
		return nil, err
	}
	return &valueSignal{kind: kind, file: f, value: v}, nil
}

func (c *valueSignal) update(snap *Snapshot) error {
	data, err := c.file.read()
	if err != nil {
		return &SignalError{Signal: string(c.kind), Err: err}
	}
	v, ok, err := c.value.value(c.file.name, data)
	if err != nil {
		return &SignalError{Signal: string(c.kind), Err: err}
	}
	if ok {
		id := string(c.kind)
		snap.Readings = append(snap.Readings, Reading{ID: id, Kind: c.kind, Subject: id, Value: v})
	}
	return nil
}
