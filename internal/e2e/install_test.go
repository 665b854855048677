package e2e

import (
	"encoding/xml"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMakeInstallPutsEveryFileWhereTheSpecSays installs with make install
// PREFIX=/usr, as a packager would, and starts the service.
func TestMakeInstallPutsEveryFileWhereTheSpecSays(t *testing.T) {
	m := bootInstalled(t, boot{noStartDaemon: true})
	files := []string{
		"/usr/bin/healingctl",
		"/usr/sbin/luminous-healingd",
		"/usr/lib/systemd/system/luminous-healing.service",
		"/usr/lib/systemd/system/luminous-healing-journal-vacuum.service",
		"/usr/lib/systemd/system/luminous-healing-nix-cleanup.service",
		"/usr/share/dbus-1/system.d/org.luminous.Healing.conf",
		"/usr/share/dbus-1/system-services/org.luminous.Healing.service",
		"/usr/share/dbus-1/interfaces/org.luminous.Healing1.xml",
		"/usr/share/polkit-1/actions/org.luminous.healing.policy",
		"/usr/share/doc/luminous-healing/org.luminous.healing.rules",
		"/usr/share/bash-completion/completions/healingctl",
		"/usr/share/zsh/site-functions/_healingctl",
		"/usr/share/fish/vendor_completions.d/healingctl.fish",
		"/etc/luminous-healing/config.toml",
	}
	for _, path := range files {
		if _, err := m.ReadFile(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	// The example rules are not active until an administrator copies them.
	if _, err := m.ReadFile("/etc/polkit-1/rules.d/org.luminous.healing.rules"); err == nil {
		t.Errorf("make install activated the example polkit rules")
	}

	t0 := time.Now()
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	started := time.Since(t0)
	// Type=notify: systemctl start returns once READY=1 arrived, which the
	// daemon sends only when its bus name is taken: the API answers at once.
	if st := m.state("luminous-healing.service"); st != "active" {
		t.Fatalf("luminous-healing is %s after start; want active\n%s", st, m.daemonLog())
	}
	if out, err := m.run("busctl", "call", "--timeout=2", "org.luminous.Healing", "/org/luminous/Healing",
		"org.luminous.Healing1", "GetStatus"); err != nil || !strings.HasPrefix(out, "a{sv}") {
		t.Errorf("GetStatus right after systemctl start: %q, %v; want an answer", out, err)
	}
	if status := m.prop("luminous-healing.service", "StatusText"); !strings.Contains(status, "unit(s) monitored") {
		t.Errorf("StatusText = %q; want the daemon's STATUS= line", status)
	}

	// busctl introspect shows exactly the interface of dbus/'s XML.
	want := xmlMembers(t, repoRoot(t)+"/dbus/org.luminous.Healing1.xml")
	out := m.MustRun(t, "busctl", "introspect", "--xml-interface", "org.luminous.Healing", "/org/luminous/Healing")
	got := xmlMembersOf(t, []byte(out))
	if !slices.Equal(got, want) {
		t.Errorf("introspected members differ from dbus/org.luminous.Healing1.xml:\n got %q\nwant %q", got, want)
	}

	t1 := time.Now()
	m.MustRun(t, "systemctl", "stop", "luminous-healing.service")
	stopped := time.Since(t1)
	if st := m.state("luminous-healing.service"); st != "inactive" {
		t.Errorf("after stop: %s; want inactive (a clean exit on SIGTERM)", st)
	}
	report(t, "%d files in place; start (to READY) %s; stop %s; introspection = XML (%d members)",
		len(files), started.Round(time.Millisecond), stopped.Round(time.Millisecond), len(got))
}

type xmlNode struct {
	Interfaces []struct {
		Name    string `xml:"name,attr"`
		Members []struct {
			XMLName xml.Name
			Name    string `xml:"name,attr"`
		} `xml:",any"`
	} `xml:"interface"`
}

func xmlMembers(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return xmlMembersOf(t, data)
}

// xmlMembersOf lists org.luminous.Healing1's methods, properties and
// signals as "kind name", sorted.
func xmlMembersOf(t *testing.T, data []byte) []string {
	var n xmlNode
	if err := xml.Unmarshal(data, &n); err != nil {
		t.Fatalf("introspection XML: %v\n%s", err, data)
	}
	var out []string
	for _, i := range n.Interfaces {
		if i.Name != "org.luminous.Healing1" {
			continue
		}
		for _, m := range i.Members {
			if m.XMLName.Local != "annotation" {
				out = append(out, m.XMLName.Local+" "+m.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}
