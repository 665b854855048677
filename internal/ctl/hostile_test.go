package ctl

import (
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
)

// What healingctl prints from the daemon never carries a control
// character: the daemon refuses them in caller text, but history written
// by an older daemon, or a message built from what systemd said, may hold
// one. Here both the history and an issue's message hold escape sequences.
func TestHealingctlPrintsNoControlCharacterFromTheDaemon(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	const evil = "/srv/\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e"
	d.Audit.Record(audit.Entry{Event: audit.CallDenied, Action: "InjectIssue", Issue: "disk:" + evil, Outcome: "denied",
		CallerUID: 1000, Message: "InjectIssue(disk:" + evil + ") by uid 1000 denied"})
	if _, err := d.Engine.InjectIssue(t.Context(), engine.Caller{Name: "test"},
		engine.Injection{Kind: issue.CPU, Severity: issue.Warning, Message: "ok"}); err != nil {
		t.Fatal(err)
	}
	securitytest.Tried(t, securitytest.BadInput, "escape sequences in daemon text printed by healingctl history, --json history, issues, status", 4)
	for _, args := range [][]string{{"history"}, {"--json", "history"}, {"issues"}, {"status"}} {
		r := healingctl(args...)
		if r.code != show.ExitOK {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		out := r.stdout + r.stderr
		if i := strings.IndexFunc(out, func(r rune) bool {
			return r == 0x1b || r == 0x07 || r == 0x9b || r == 0x202e
		}); i >= 0 {
			t.Errorf("healingctl %v printed a control character at %d:\n%q", args, i, out)
		}
	}
	if r := healingctl("history"); !strings.Contains(r.stdout, `\x1b]0;pwned`) {
		t.Errorf("history does not show the escape as text:\n%s", r.stdout)
	}
}
