package config

import "github.com/luminous-healing/luminous-healing/internal/printable"

// safeError is a configuration error whose text is safe to log, to send in
// the Reload reply and to print: bytes of the file that are not printable
// text (control characters, bidi overrides, invalid UTF-8) are shown as Go
// escapes, so the message stays one inert line whatever the file holds.
type safeError struct{ err error }

func (e safeError) Error() string { return printable.String(e.err.Error()) }
func (e safeError) Unwrap() error { return e.err }
