package detect

import (
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// The load signal gives the 1-minute load average. Its value is not a
// percentage: rules.go gives load its own severity and clearing rules.
func init() {
	register("load", func(s *Sampler) (collector, error) {
		return newValueSignal(s, issue.Load, "loadavg", 128, always(parseLoadavg))
	})
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
