// Package show is how healingctl shows the daemon's records to a person,
// for its commands and its dashboard alike: the colours (this file, the
// only place they are chosen) and the words (words.go). It never talks
// to the daemon and keeps no clock: callers pass now.
package show

import (
	"io"
	"os"

	"charm.land/lipgloss/v2"
	"golang.org/x/sys/unix"
)

// Sev paints text by severity when on: ok, warning or critical, and the
// outcomes of actions (succeeded, planned, failed, …) as the severities
// they amount to. The codes are of one length, so that tabwriter's
// columns stay aligned when every cell of a column is painted; the
// dashboard hands them to Bubble Tea, which lowers them to what the
// terminal supports and drops them under NO_COLOR.
func Sev(on bool, severity, text string) string {
	if !on || text == "" {
		return text
	}
	switch severity {
	case "ok", "succeeded", "allowed":
		return "\x1b[0;32m" + text + "\x1b[0m"
	case "warning", "planned", "refused":
		return "\x1b[0;33m" + text + "\x1b[0m"
	case "critical", "failed", "denied":
		return "\x1b[1;31m" + text + "\x1b[0m"
	}
	return text
}

// The dashboard's other styles.
var (
	Heading  = lipgloss.NewStyle().Bold(true)
	Dim      = lipgloss.NewStyle().Faint(true)
	Selected = lipgloss.NewStyle().Reverse(true)
	Banner   = lipgloss.NewStyle().Background(lipgloss.Red).Foreground(lipgloss.BrightWhite).Bold(true)
)

// Paint renders text in style s when on.
func Paint(on bool, s lipgloss.Style, text string) string {
	if !on || text == "" {
		return text
	}
	return s.Render(text)
}

// Colorful reports whether to colour w: a terminal, and NO_COLOR unset.
func Colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && IsTerminal(f) && os.Getenv("NO_COLOR") == ""
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
