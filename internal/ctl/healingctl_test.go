package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

type result struct {
	code           int
	stdout, stderr string
}

func healingctl(args ...string) result {
	var out, errb bytes.Buffer
	code := run(append([]string{"healingctl"}, args...), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestExitCodesAndMessages(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	cases := []struct {
		name     string
		args     []string
		answer   bustest.Answer // polkit's answer to every action
		code     int
		contains string // in stdout for 0, in stderr otherwise
	}{
		{"status works for everyone", []string{"status"}, bustest.No, show.ExitOK, "Health:"},
		{"issues when there are none", []string{"issues"}, bustest.No, show.ExitOK, "No active issues."},
		{"history", []string{"history", "-n", "3"}, bustest.No, show.ExitOK, "daemon-started"},
		{"predictions when there are none", []string{"predict"}, bustest.No, show.ExitOK, "No resource is predicted"},
		{"an unknown command", []string{"frobnicate"}, bustest.No, show.ExitUsage, `no command "frobnicate"`},
		{"a missing argument", []string{"restart"}, bustest.No, show.ExitUsage, "restart needs UNIT"},
		{"an unknown flag", []string{"status", "--frob"}, bustest.No, show.ExitUsage, "flag provided but not defined"},
		{"on|off that is neither", []string{"set", "dry-run", "maybe"}, bustest.No, show.ExitUsage, `takes on or off`},
		{"a threshold that is not a number", []string{"set", "threshold", "cpu", "NaN"}, bustest.No, show.ExitUsage, "not a number"},
		{"a unit name outside systemd's grammar", []string{"restart", "a/b"}, bustest.Yes, show.ExitUsage, "invalid unit name"},
		{"an unknown issue", []string{"heal", "cpu"}, bustest.Yes, show.ExitFailure, `no active issue "cpu"`},
		{"polkit says no", []string{"restart", "web"}, bustest.No, show.ExitDenied, "access denied by polkit"},
		{"polkit would ask and may not", []string{"--no-ask-password", "restart", "web"}, bustest.Challenge, show.ExitDenied, "no password may be asked"},
		{"polkit says yes", []string{"restart", "web"}, bustest.Yes, show.ExitOK, "restart web.service: succeeded"},
		{"the monitored units complete restart", []string{"restart", "--generate-bash-completion"}, bustest.No, show.ExitOK, "web.service"},
		{"a throttle", []string{"throttle", "other"}, bustest.Yes, show.ExitOK, "throttle other.service: succeeded"},
		{"the throttled units complete release", []string{"release", "--generate-bash-completion"}, bustest.No, show.ExitOK, "other.service"},
		{"the daemon's version", []string{"version"}, bustest.No, show.ExitOK, "luminous-healingd test"},
		{"a setting", []string{"set", "dry-run", "on"}, bustest.Yes, show.ExitOK, "dry-run is on"},
		{"a dry-run action", []string{"cleanup"}, bustest.Yes, show.ExitOK, "planned (dry-run, nothing was done)"},
		{"the dashboard off a terminal prints a snapshot", []string{"dashboard"}, bustest.No, show.ExitOK, "RESOURCES"},
		{"the dashboard has no JSON", []string{"--json", "dashboard"}, bustest.No, show.ExitUsage, "no JSON form"},
		{"the dashboard's --every below a second", []string{"dashboard", "--every", "10ms"}, bustest.No, show.ExitUsage, "--every: at least 1s"},
		{"a completion script", []string{"completion", "bash"}, bustest.No, show.ExitOK, "complete -o bashdefault"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d.Authority.Answer(client.ActionHeal, c.answer)
			d.Authority.Answer(client.ActionDevelop, c.answer)
			r := healingctl(c.args...)
			if r.code != c.code {
				t.Fatalf("exit code %d; want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			where := r.stderr
			if c.code == show.ExitOK {
				where = r.stdout
			}
			if !strings.Contains(where, c.contains) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", c.contains, r.stdout, r.stderr)
			}
			if c.code != show.ExitOK {
				if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 2 {
					t.Errorf("the error takes %d lines; want one or two:\n%s", lines, r.stderr)
				}
				if r.stdout != "" && c.code != show.ExitUsage {
					t.Errorf("stdout on failure: %q", r.stdout)
				}
			}
		})
	}
}

func TestJSONIsTheWireRecord(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.DryRun = true }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	for _, args := range [][]string{{"--json", "status"}, {"status", "--json"}} {
		r := healingctl(args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, r.stdout)
		}
		if st["dry_run"] != true || st["health"] != "ok" || st["version"] != "test" {
			t.Errorf("%v: got %v; want the GetStatus record", args, st)
		}
	}
}

func TestADaemonThatIsNotRunningGetsOneLineAndExitCode3(t *testing.T) {
	b := bustest.Start(t) // a bus where nobody owns org.luminous.Healing
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", b.Address)
	r := healingctl("status")
	if r.code != show.ExitUnreachable {
		t.Fatalf("exit code %d; want %d: %s", r.code, show.ExitUnreachable, r.stderr)
	}
	if !strings.Contains(r.stderr, "luminous-healingd is not running") || !strings.Contains(r.stderr, "systemctl enable --now luminous-healing") {
		t.Errorf("got %q; want it to say the daemon is not running and how to start it", r.stderr)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	if r := healingctl("status"); r.code != show.ExitUnreachable {
		t.Errorf("without a bus: exit code %d; want %d: %s", r.code, show.ExitUnreachable, r.stderr)
	}
	// The try-it mode's hint, however --user is spelled.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.Address)
	for _, args := range [][]string{{"--user", "status"}, {"status", "--user=true"}} {
		r := healingctl(args...)
		if r.code != show.ExitUnreachable || !strings.Contains(r.stderr, "luminous-healingd --user is not reachable") {
			t.Errorf("%v: exit code %d, %q; want %d and the --user hint", args, r.code, r.stderr, show.ExitUnreachable)
		}
	}
}

// watch --json prints each record on one line, its text untouched.
func TestWatchJSONLinesKeepTheirText(t *testing.T) {
	var out strings.Builder
	msg := "disk  full\u00a0now\nsecond line"
	if err := printJSONLine(&env{stdout: &out}, client.Issue{ID: "disk:/", Message: msg}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines; want one: %q", n, out.String())
	}
	var got struct{ Message string }
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil || got.Message != msg {
		t.Errorf("message %q, %v; want %q", got.Message, err, msg)
	}
}
