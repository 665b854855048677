package detect

import (
	"bytes"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register("cpu", newCPU) }

// cpuCollector turns the aggregate line of /proc/stat into the busy share
// of all CPUs since the previous pass. The first pass only records the
// counters: a percentage needs two of them, so it gives no cpu reading.
type cpuCollector struct {
	stat *procFile
	// Counters of the previous pass, in USER_HZ ticks.
	busy, total uint64
	primed      bool
}

func newCPU(s *Sampler) (collector, error) {
	// The aggregate line comes first; on a big machine the rest of the file
	// (one line per CPU, the interrupt counters) runs to tens of kilobytes
	// that the pass need not copy.
	f, err := s.openProc("stat", 1024)
	if err != nil {
		return nil, err
	}
	return &cpuCollector{stat: f}, nil
}

func (c *cpuCollector) update(snap *Snapshot) error {
	data, err := c.stat.read()
	if err != nil {
		return &SignalError{Signal: "cpu", Err: err}
	}
	busy, total, err := parseCPUStat(c.stat.name, data)
	if err != nil {
		return &SignalError{Signal: "cpu", Err: err}
	}
	prevBusy, prevTotal, primed := c.busy, c.total, c.primed
	c.busy, c.total, c.primed = busy, total, true
	// A counter that went backwards means a reset (CPU hot-unplug removes
	// that CPU's ticks from the sum) or a wrap: skip this pass and start
	// again from the new counters. No ticks at all means the passes came
	// within one tick of each other.
	if !primed || busy < prevBusy || total <= prevTotal || total-prevTotal < busy-prevBusy {
		return nil
	}
	pct := 100 * float64(busy-prevBusy) / float64(total-prevTotal)
	snap.Readings = append(snap.Readings, Reading{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: pct})
	return nil
}

// parseCPUStat reads the first line of /proc/stat:
//
//	cpu  user nice system idle iowait irq softirq steal guest guest_nice
//
// total is every field up to steal: guest and guest_nice are already
// counted inside user and nice. busy is total less idle and iowait. Kernels
// older than 2.6.33 give fewer fields; the missing ones count as 0.
func parseCPUStat(file string, data []byte) (busy, total uint64, err error) {
	line, ok := firstLine(data)
	if !ok {
		return 0, 0, malformed(file, data, "no complete first line")
	}
	name, rest := nextField(line)
	if !bytes.Equal(name, []byte("cpu")) {
		return 0, 0, malformed(file, line, `first line is not the aggregate "cpu" line`)
	}
	const (
		idle   = 3
		iowait = 4
		steal  = 7
	)
	var idleAll uint64
	n := 0
	for i := 0; i <= steal; i++ {
		var f []byte
		f, rest = nextField(rest)
		if len(f) == 0 {
			break
		}
		v, err := parseUint(f)
		if err != nil {
			return 0, 0, malformed(file, line, "bad counter")
		}
		total += v
		if i == idle || i == iowait {
			idleAll += v
		}
		n++
	}
	if n < 4 {
		return 0, 0, malformed(file, line, "fewer than 4 counters")
	}
	return total - idleAll, total, nil
}
