package detect

import (
	"bytes"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() {
	register("cpu", func(s *Sampler) (collector, error) {
		// The aggregate line comes first; on a big machine the rest of the
		// file (one line per CPU, the interrupt counters) runs to tens of
		// kilobytes that the pass need not copy.
		return newValueSignal(s, issue.CPU, "stat", 1024, &cpuShare{})
	})
}

// cpuShare turns the aggregate line of /proc/stat into the busy share of
// all CPUs since the previous pass. The first pass only records the
// counters: a percentage needs two of them, so it gives no cpu reading.
type cpuShare struct {
	// Counters of the previous pass, in USER_HZ ticks.
	busy, total uint64
	primed      bool
}

func (c *cpuShare) value(file string, data []byte) (float64, bool, error) {
	busy, total, err := parseCPUStat(file, data)
	if err != nil {
		return 0, false, err
	}
	prevBusy, prevTotal, primed := c.busy, c.total, c.primed
	c.busy, c.total, c.primed = busy, total, true
	// A counter that went backwards means a reset (CPU hot-unplug removes
	// that CPU's ticks from the sum) or a wrap: skip this pass and start
	// again from the new counters. No ticks at all means the passes came
	// within one tick of each other.
	if !primed || busy < prevBusy || total <= prevTotal || total-prevTotal < busy-prevBusy {
		return 0, false, nil
	}
	return 100 * float64(busy-prevBusy) / float64(total-prevTotal), true, nil
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
