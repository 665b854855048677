package systemd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on what JournalTail returns: a cause is one glance, not a log.
const (
	journalLines   = 5
	journalLineMax = 200       // bytes per line, after cleaning
	journalReadMax = 256 << 10 // bytes read from journalctl at most
	journalTimeout = 2 * time.Second
)

// Journal reads a unit's last journal lines with journalctl, run as a
// bounded subprocess: the daemon is built without cgo, and sd-journal (what
// go-systemd's sdjournal wraps) is a C library. journalctl speaks the
// journal's file format for us, honours the same access rules, and its
// JSON output is stable. The subprocess is bounded in time (2 s), in
// entries (-n) and in bytes read; its lines are cleaned of control
// characters, since they reach terminals and notifications.
type Journal struct {
	// Command is journalctl's path; "" means "journalctl" on $PATH.
	Command string
}

// Tail returns the last lines the unit's processes wrote in the run with
// the given invocation id (any run of the unit when it is empty), oldest
// first: at most 5 lines of at most 200 bytes.
func (j Journal) Tail(ctx context.Context, unit, invocation string) ([]string, error) {
	if unit == "" || strings.ContainsAny(unit, "= \n") || strings.ContainsAny(invocation, "= \n") {
		return nil, fmt.Errorf("bad unit %q or invocation %q", unit, invocation)
	}
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	cmd := j.Command
	if cmd == "" {
		cmd = "journalctl"
	}
	match := "_SYSTEMD_UNIT=" + unit
	if invocation != "" {
		match = "_SYSTEMD_INVOCATION_ID=" + invocation
	}
	c := exec.CommandContext(ctx, cmd, "--no-pager", "--quiet", "--output=json", "--output-fields=MESSAGE",
		fmt.Sprintf("--lines=%d", journalLines), match)
	c.WaitDelay = time.Second
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	lines, perr := parseJournalJSON(io.LimitReader(out, journalReadMax))
	_, _ = io.Copy(io.Discard, out)
	if err := c.Wait(); err != nil && len(lines) == 0 {
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	return lines, perr
}

// parseJournalJSON reads journalctl's JSON lines: MESSAGE is a string, or
// an array of bytes when it is not valid UTF-8, or null when too large.
func parseJournalJSON(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), journalReadMax)
	for sc.Scan() {
		var e struct {
			Message json.RawMessage `json:"MESSAGE"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		var msg string
		if json.Unmarshal(e.Message, &msg) != nil {
			var raw []byte
			var ints []int
			if json.Unmarshal(e.Message, &ints) != nil {
				continue
			}
			for _, n := range ints {
				raw = append(raw, byte(n))
			}
			msg = string(bytes.ToValidUTF8(raw, []byte("?")))
		}
		if msg = CleanLine(msg, journalLineMax); msg != "" {
			out = append(out, msg)
		}
	}
	if len(out) > journalLines {
		out = out[len(out)-journalLines:]
	}
	return out, sc.Err()
}

// CleanLine makes s safe for one line of a terminal or a notification:
// control characters (escape sequences, newlines, tabs) become spaces,
// runs of space shrink to one, and it is cut to max bytes on a rune
// boundary, with "…" when cut.
func CleanLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	s = b.String()
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
