package dbusapi

import (
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// FuzzInjection: InjectIssue's a{sv} is the one argument any caller can
// fill with free text. Whatever it holds, the decoder and the engine's
// check together return an InvalidArgument of one safe line, or an op
// whose injection has no control character in any string — before
// polkit is asked.
func FuzzInjection(f *testing.F) {
	f.Add("disk", "/srv", "warning", "full", 97.0, 90.0, "", "")
	f.Add("unit", "nginx", "critical", "", 0.0, 0.0, "", "")
	f.Add("disk", "/srv/\x1b]0;pwned\x07", "warning", "", 1.0, 1.0, "", "")
	f.Add("cpu", "", "ok", "\u202eevil", 1.0, 1.0, "pid", "x")
	f.Add("", "", "", "", 0.0, 0.0, "kind", "\x00")
	// The engine is not running: checking an injection reads only its
	// configuration and open issues.
	eng := enginetest.New(f, enginetest.Setup{}).Engine
	f.Fuzz(func(t *testing.T, kind, subject, severity, message string, value, threshold float64, extraKey, extraVal string) {
		if !utf8.ValidString(kind + subject + severity + message + extraKey + extraVal) {
			t.Skip("D-Bus carries valid UTF-8 only; the bus refuses anything else")
		}
		m := map[string]dbus.Variant{
			"kind": dbus.MakeVariant(kind), "subject": dbus.MakeVariant(subject), "severity": dbus.MakeVariant(severity),
			"message": dbus.MakeVariant(message), "value": dbus.MakeVariant(value), "threshold": dbus.MakeVariant(threshold),
		}
		if extraKey != "" {
			m[extraKey] = dbus.MakeVariant(extraVal)
		}
		in, derr := injection(m)
		if derr == nil {
			op, err := eng.InjectIssueOp(in)
			if err == nil && op.Tier != engine.TierDevelop {
				t.Fatalf("an injection needs %v; want development mode", op.Tier)
			}
			derr = (&Server{log: slog.New(slog.DiscardHandler)}).replyErr("InjectIssue", err)
		}
		if derr != nil {
			if derr.Name != client.ErrorInvalidArgument {
				t.Fatalf("error %s; want InvalidArgument", derr.Name)
			}
			msg, _ := derr.Body[0].(string)
			if msg == "" || strings.Contains(msg, "\n") || unit.HasControl(msg) {
				t.Fatalf("error message %q: want one safe line", msg)
			}
			return
		}
		for _, s := range []string{string(in.Kind), in.Subject, in.Message} {
			if unit.HasControl(s) {
				t.Fatalf("accepted %q with a control character", s)
			}
		}
	})
}
