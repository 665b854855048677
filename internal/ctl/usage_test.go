package ctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// Mistakes on the command line get exit code 2 and a message that says
// what was wrong; each of these said something else before (bare set
// printed help and exited 0, restart nginx extra said "restart needs UNIT",
// history -n -1 said only "parse error").
func TestUsageMistakesSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"set"}, "set needs a setting: dry-run on|off, healing on|off or threshold KIND VALUE"},
		{[]string{"set", "colour", "blue"}, `no setting "colour"`},
		{[]string{"restart", "nginx", "extra"}, `restart: too many arguments: restart takes only UNIT, got "extra" too`},
		{[]string{"set", "threshold", "cpu", "70", "80"}, `too many arguments: threshold takes only KIND VALUE, got "80" too`},
		{[]string{"status", "now"}, `status takes no arguments, got "now"`},
		{[]string{"history", "-n", "-1"}, "--limit: -1 is not a count of entries"},
		{[]string{"history", "-n", "many"}, `--limit: "many" is not a valid value`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := healingctl(c.args...)
			if r.code != show.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", r.code, r.stderr, c.want)
			}
		})
	}
}

// Under --json a failure is a JSON object on stderr, with the exit code
// it always had, so that a script parses errors as it parses results.
func TestErrorsUnderJSONAreJSONWithTheSameExitCodes(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionHeal, bustest.No)
	for _, c := range []struct {
		args     []string
		code     int
		error    string
		dbusName string
	}{
		{[]string{"--json", "restart"}, show.ExitUsage, "restart needs UNIT", ""},
		{[]string{"--json", "frobnicate"}, show.ExitUsage, `no command "frobnicate"`, ""},
		{[]string{"history", "--json", "-n", "-1"}, show.ExitUsage, "--limit: -1", ""},
		{[]string{"--json", "restart", "web"}, show.ExitDenied, "access denied by polkit.", "org.freedesktop.DBus.Error.AccessDenied"},
		{[]string{"--json", "heal", "cpu"}, show.ExitFailure, `no active issue "cpu"`, "org.luminous.Healing1.Error.NotFound"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := healingctl(c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d; want %d\nstderr: %s", r.code, c.code, r.stderr)
			}
			var got jsonError
			dec := json.NewDecoder(strings.NewReader(r.stderr))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stderr is not a JSON error: %v\n%s", err, r.stderr)
			}
			if !strings.Contains(got.Error, c.error) || got.ExitCode != c.code || got.DBusError != c.dbusName || r.stdout != "" {
				t.Errorf("stderr %+v, stdout %q; want error %q, exit_code %d, dbus_error %q and nothing on stdout", got, r.stdout, c.error, c.code, c.dbusName)
			}
		})
	}
	r := healingctl("restart")
	if strings.HasPrefix(r.stderr, "{") {
		t.Errorf("without --json the error is JSON: %s", r.stderr)
	}
}
