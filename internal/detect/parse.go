package detect

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The parsers work on the bytes a procFile returns and allocate nothing
// unless they fail.

// firstLine returns data up to its first newline; ok is false when there is
// none, i.e. the line was cut off or the file is empty.
func firstLine(data []byte) (line []byte, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return nil, false
	}
	return data[:i], true
}

// nextField returns the first space-separated field of s and the rest.
func nextField(s []byte) (field, rest []byte) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], s[j:]
}

var errNotNumber = errors.New("not a number")

// parseUint parses a decimal counter.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errNotNumber
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, errors.New("number out of range")
		}
		n = n*10 + d
	}
	return n, nil
}

// parseFloat parses a finite, non-negative decimal such as a load average
// or a PSI average.
func parseFloat(b []byte) (float64, error) {
	// Converting a short slice for a call whose argument does not escape
	// stays on the stack.
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, errNotNumber
	}
	return v, nil
}

// malformed describes a line that did not parse, quoting a bounded part of it.
func malformed(file string, line []byte, why string) error {
	const max = 80
	if len(line) > max {
		line = line[:max]
	}
	return fmt.Errorf("%s: %s in %q", file, why, line)
}
