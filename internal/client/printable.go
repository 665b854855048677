package client

import "github.com/luminous-healing/luminous-healing/internal/printable"

// Printable returns s safe to print on a terminal or in a notification:
// every control character (C0, DEL, C1), bidirectional override or
// isolate, line or paragraph separator and invalid byte is replaced by its
// Go escape (\x1b, \u202e), visible and inert (internal/printable).
//
// The daemon refuses such characters in caller text, but what it reports
// also comes from elsewhere (unit names and messages systemd gives it,
// history written by an older version), so every string a client decodes
// from the daemon passes through here, alone or in a list: healingctl's
// tables, watch, the dashboard and the desktop notifications all print
// decoded records.
func Printable(s string) string { return printable.String(s) }
