package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
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
		{"status works for everyone", []string{"status"}, bustest.No, exitOK, "Health:"},
		{"issues when there are none", []string{"issues"}, bustest.No, exitOK, "No active issues."},
		{"history", []string{"history", "-n", "3"}, bustest.No, exitOK, "daemon-started"},
		{"predictions when there are none", []string{"predict"}, bustest.No, exitOK, "No resource is predicted"},
		{"an unknown command", []string{"frobnicate"}, bustest.No, exitUsage, `no command "frobnicate"`},
		{"a missing argument", []string{"restart"}, bustest.No, exitUsage, "restart needs UNIT"},
		{"an unknown flag", []string{"status", "--frob"}, bustest.No, exitUsage, "flag provided but not defined"},
		{"on|off that is neither", []string{"set", "dry-run", "maybe"}, bustest.No, exitUsage, `takes on or off`},
		{"a threshold that is not a number", []string{"set", "threshold", "cpu", "NaN"}, bustest.No, exitUsage, "not a number"},
		{"a unit name outside systemd's grammar", []string{"restart", "a/b"}, bustest.Yes, exitUsage, "invalid unit name"},
		{"an unknown issue", []string{"heal", "cpu"}, bustest.Yes, exitFailure, `no active issue "cpu"`},
		{"polkit says no", []string{"restart", "web"}, bustest.No, exitDenied, "access denied by polkit"},
		{"polkit would ask and may not", []string{"--no-ask-password", "restart", "web"}, bustest.Challenge, exitDenied, "no password may be asked"},
		{"polkit says yes", []string{"restart", "web"}, bustest.Yes, exitOK, "restart web.service: succeeded"},
		{"the monitored units complete restart", []string{"restart", "--generate-bash-completion"}, bustest.No, exitOK, "web.service"},
		{"a throttle", []string{"throttle", "other"}, bustest.Yes, exitOK, "throttle other.service: succeeded"},
		{"the throttled units complete release", []string{"release", "--generate-bash-completion"}, bustest.No, exitOK, "other.service"},
		{"the daemon's version", []string{"version"}, bustest.No, exitOK, "luminous-healingd test"},
		{"a setting", []string{"set", "dry-run", "on"}, bustest.Yes, exitOK, "dry-run is on"},
		{"a dry-run action", []string{"cleanup"}, bustest.Yes, exitOK, "planned (dry-run, nothing was done)"},
		{"the dashboard off a terminal prints a snapshot", []string{"dashboard"}, bustest.No, exitOK, "RESOURCES"},
		{"the dashboard has no JSON", []string{"--json", "dashboard"}, bustest.No, exitUsage, "no JSON form"},
		{"the dashboard's --every below a second", []string{"dashboard", "--every", "10ms"}, bustest.No, exitUsage, "--every: at least 1s"},
		{"a completion script", []string{"completion", "bash"}, bustest.No, exitOK, "complete -o bashdefault"},
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
			if c.code == exitOK {
				where = r.stdout
			}
			if !strings.Contains(where, c.contains) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", c.contains, r.stdout, r.stderr)
			}
			if c.code != exitOK {
				if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 2 {
					t.Errorf("the error takes %d lines; want one or two:\n%s", lines, r.stderr)
				}
				if r.stdout != "" && c.code != exitUsage {
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
	if r.code != exitUnreachable {
		t.Fatalf("exit code %d; want %d: %s", r.code, exitUnreachable, r.stderr)
	}
	if !strings.Contains(r.stderr, "luminous-healingd is not running") || !strings.Contains(r.stderr, "systemctl enable --now luminous-healing") {
		t.Errorf("got %q; want it to say the daemon is not running and how to start it", r.stderr)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	if r := healingctl("status"); r.code != exitUnreachable {
		t.Errorf("without a bus: exit code %d; want %d: %s", r.code, exitUnreachable, r.stderr)
	}
	// The try-it mode's hint, however --user is spelled.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.Address)
	for _, args := range [][]string{{"--user", "status"}, {"status", "--user=true"}} {
		r := healingctl(args...)
		if r.code != exitUnreachable || !strings.Contains(r.stderr, "luminous-healingd --user is not reachable") {
			t.Errorf("%v: exit code %d, %q; want %d and the --user hint", args, r.code, r.stderr, exitUnreachable)
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
