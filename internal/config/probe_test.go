package config

import (
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/probe"
)

func TestProbes(t *testing.T) {
	c, err := Parse([]byte(`
[services]
monitored = ["nginx", "postgresql", "app"]
[[probe]]
unit = "nginx"
type = "http"
url = "https://127.0.0.1/healthz"
body_regexp = "^ok"
failures = 2
interval = "5s"
timeout = "1s"
grace = "0s"
[[probe]]
unit = "postgresql.service"
type = "tcp"
address = "127.0.0.1:5432"
action = "none"
[[probe]]
unit = "app"
type = "command"
command = ["/usr/bin/check"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Probes) != 3 {
		t.Fatalf("got %d probes", len(c.Probes))
	}
	h := c.Probes[0].Spec
	if h.Unit != "nginx.service" || h.Method != "GET" || h.Status != 200 || !h.TLSVerify || h.BodyRegexp == nil ||
		h.Failures != 2 || h.Interval != 5*time.Second || h.Timeout != time.Second || h.Grace != 0 || h.Action != probe.ActionRestart {
		t.Errorf("http probe: %+v", h)
	}
	tc := c.Probes[1].Spec
	if tc.Unit != "postgresql.service" || tc.Action != "none" || tc.Interval != probe.DefaultInterval ||
		tc.Timeout != probe.DefaultTimeout || tc.Grace != probe.DefaultGrace || tc.Failures != probe.DefaultFailures {
		t.Errorf("tcp probe: %+v", tc)
	}
	if cm := c.Probes[2].Spec; cm.User != "" || cm.Argv[0] != "/usr/bin/check" {
		t.Errorf("command probe: %+v", cm)
	}
}

func TestProbeErrors(t *testing.T) {
	const head = "[services]\nmonitored = [\"nginx\", \"sshd\"]\nprotected = [\"sshd\"]\n"
	for _, tc := range []struct{ body, want string }{
		{"unit = \"redis\"\ntype = \"tcp\"\naddress = \"127.0.0.1:6379\"", "probe[0].unit: redis.service is not monitored"},
		{"unit = \"sshd\"\ntype = \"tcp\"\naddress = \"127.0.0.1:22\"", "probe[0].unit: sshd.service is protected"},
		{"unit = \"nginx\"\ntype = \"ftp\"", "probe[0].type: must be http, tcp, unix or command"},
		{"unit = \"nginx\"\ntype = \"http\"\nurl = \"file:///etc/passwd\"", "probe[0].url"},
		{"unit = \"nginx\"\ntype = \"http\"\nurl = \"http://h/\"\nbody_regexp = \"(\"", "probe[0].body_regexp"},
		{"unit = \"nginx\"\ntype = \"http\"\nurl = \"http://h/\"\naddress = \"h:1\"", "probe[0].address: does not apply to a http probe"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"nohost\"", "probe[0].address: must be host:port"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\nmethod = \"GET\"", "probe[0].url: does not apply to a tcp probe"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\nuser = \"nobody\"", "probe[0].user: does not apply to a tcp probe"},
		{"unit = \"nginx\"\ntype = \"unix\"\npath = \"/run/x.sock\"\ncommand = [\"/bin/true\"]", "probe[0].command: does not apply to a unix probe"},
		{"unit = \"nginx\"\ntype = \"command\"\ncommand = [\"/bin/true\"]\npath = \"/run/x.sock\"", "probe[0].path: does not apply to a command probe"},
		{"unit = \"nginx\"\ntype = \"unix\"\npath = \"rel/sock\"", "probe[0].path"},
		{"unit = \"nginx\"\ntype = \"command\"\ncommand = [\"check\"]", "probe[0].command"},
		{"unit = \"nginx\"\ntype = \"command\"\ncommand = [\"/bin/true\"]\nuser = \"root\"", "probe[0].user: command probes never run as root"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\ntimeout = \"1m\"\ninterval = \"10s\"", "probe[0].timeout"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\nfailures = 0\naction = \"kill\"", "probe[0].action"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\n[[probe]]\nunit = \"nginx.service\"\ntype = \"tcp\"\naddress = \"h:2\"", "probe[1].unit: nginx.service has a probe already"},
		{"unit = \"nginx\"\ntype = \"tcp\"\naddress = \"h:1\"\nbogus = 1", "unknown key probe.bogus"},
	} {
		_, err := Parse([]byte(head + "[[probe]]\n" + tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.body, err, tc.want)
		}
	}
}
