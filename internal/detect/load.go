package detect

import (
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register("load", newLoad) }

// loadCollector gives the 1-minute load average. Its value is not a
// percentage: rules.go gives load its own severity and clearing rules.
type loadCollector struct {
	loadavg *procFile
}

func newLoad(s *Sampler) (collector, error) {
	f, err := s.openProc("loadavg", 128)
	if err != nil {
		return nil, err
	}
	return &loadCollector{loadavg: f}, nil
}

func (c *loadCollector) update(snap *Snapshot) error {
	data, err := c.loadavg.read()
	if err != nil {
		return &SignalError{Signal: "load", Err: err}
	}
	v, err := parseLoadavg(c.loadavg.name, data)
	if err != nil {
		return &SignalError{Signal: "load", Err: err}
	}
	snap.Readings = append(snap.Readings, Reading{ID: "load", Kind: issue.Load, Subject: "load", Value: v})
	return nil
}

// parseLoadavg reads the first field of "0.16 0.13 0.05 1/88 5147".
func parseLoadavg(file string, data []byte) (float64, error) {
	line, ok := firstLine(data)
	if !ok {
		return 0, malformed(file, data, "no complete line")
	}
	f, _ := nextField(line)
	v, err := parseFloat(f)
	if err != nil {
		return 0, malformed(file, line, "bad 1-minute load average")
	}
	return v, nil
}
