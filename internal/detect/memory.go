package detect

import (
	"bytes"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// The memory signal gives the used share of memory, 100·(1 − MemAvailable
// / MemTotal): what the kernel estimates could be handed to a new workload
// without swapping counts as free, page cache included.
func init() {
	register("memory", func(s *Sampler) (collector, error) {
		// MemTotal and MemAvailable are the first and third lines; the
		// whole file is about 1.5 KB.
		return newValueSignal(s, issue.Memory, "meminfo", 4096, always(parseMeminfo))
	})
}

// parseMeminfo finds MemTotal and MemAvailable in lines such as
// "MemTotal:       24683656 kB" and returns the used percentage.
func parseMeminfo(file string, data []byte) (float64, error) {
	var total, avail uint64
	var haveTotal, haveAvail bool
	// Only complete lines count: a read cut off mid-line must not yield a
	// truncated number.
	for !(haveTotal && haveAvail) {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		key, rest := nextField(line)
		var dst *uint64
		switch {
		case bytes.Equal(key, []byte("MemTotal:")):
			dst, haveTotal = &total, true
		case bytes.Equal(key, []byte("MemAvailable:")):
			dst, haveAvail = &avail, true
		default:
			continue
		}
		v, _ := nextField(rest)
		n, err := parseUint(v)
		if err != nil {
			return 0, malformed(file, line, "bad value")
		}
		*dst = n
	}
	switch {
	case !haveTotal:
		return 0, malformed(file, nil, "no MemTotal line")
	case !haveAvail:
		return 0, malformed(file, nil, "no MemAvailable line (the kernel is older than 3.14)")
	case total == 0:
		return 0, malformed(file, nil, "MemTotal is 0")
	}
	// Virtualised meminfo (lxcfs) has been seen reporting more available
	// than total; that is no memory in use, not a broken file.
	return 100 * (1 - float64(min(avail, total))/float64(total)), nil
}
