package ctl

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// docs/desktop.md's snippets, run against the daemon's D-Bus server on a
// private system bus, so that what the page shows keeps working.

// lines runs a command until the test ends and streams its output lines.
func lines(t *testing.T, name string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// lineWith waits for a line containing every one of want.
func lineWith(t *testing.T, ch <-chan string, want ...string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("the output ended before a line with %q", want)
			}
			all := true
			for _, w := range want {
				all = all && strings.Contains(l, w)
			}
			if all {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q within 20s", want)
		}
	}
}

func docsDaemon(t *testing.T) *client.Client {
	t.Helper()
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	return d.Client(t, client.Options{})
}

func inject(t *testing.T, cl *client.Client) {
	t.Helper()
	if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web", Severity: "critical", Message: "web.service failed"}); err != nil {
		t.Fatal(err)
	}
}

func TestDesktopDocsMonitorSnippets(t *testing.T) {
	for _, tool := range []string{"gdbus", "busctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: skipping docs/desktop.md's monitor snippets", tool)
		}
	}
	cl := docsDaemon(t)
	gdbus := lines(t, "gdbus", "monitor", "--system", "--dest", "org.luminous.Healing")
	lineWith(t, gdbus, "is owned by")
	busctl := lines(t, "busctl", "--system", "monitor", "--match", "type='signal',sender='org.luminous.Healing'")
	lineWith(t, busctl, "Monitoring bus message stream")
	time.Sleep(200 * time.Millisecond) // busctl says it monitors before the bus has it monitoring
	inject(t, cl)
	lineWith(t, gdbus, "org.luminous.Healing1.IssueDetected", "'id': <'unit:web.service'>")
	lineWith(t, gdbus, "PropertiesChanged", "'ActiveIssues': <uint32 1>")
	lineWith(t, busctl, "Member=IssueDetected")
}

func TestDesktopDocsGNOMEShellExtension(t *testing.T) {
	dir := "../../docs/desktop/gnome-shell-extension"
	if node, err := exec.LookPath("node"); err == nil {
		// node parses the ES modules; GNOME Shell's imports exist only in
		// GNOME Shell, so this is a syntax check.
		tmp := t.TempDir()
		for _, f := range []string{"extension.js", "healing.js", "check.js"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			mjs := filepath.Join(tmp, strings.TrimSuffix(f, ".js")+".mjs")
			if err := os.WriteFile(mjs, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(node, "--check", mjs).CombinedOutput(); err != nil {
				t.Errorf("node --check %s: %v\n%s", f, err, out)
			}
		}
	} else {
		t.Log("node is not installed: extension.js is not syntax-checked")
	}
	if _, err := exec.LookPath("gjs"); err != nil {
		t.Skip("gjs is not installed (Debian: apt install gjs): skipping the extension's D-Bus half")
	}
	// The extension's D-Bus half runs in gjs as it would in GNOME Shell.
	cl := docsDaemon(t)
	gjs := lines(t, "gjs", "-m", filepath.Join(dir, "check.js"), "1")
	lineWith(t, gjs, "running=true health=ok active=0")
	inject(t, cl)
	lineWith(t, gjs, "running=true health=critical active=1")
}

func TestDesktopDocsStatusScript(t *testing.T) {
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl is not installed: skipping docs/desktop/healing-status.sh")
	}
	script := "../../docs/desktop/healing-status.sh"
	run := func() string {
		out, err := exec.Command("sh", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	if got := run(); got != "luminous-healing: not running" {
		t.Errorf("without a daemon: %q", got)
	}
	cl := docsDaemon(t)
	if got := run(); got != "luminous-healing: ok, 0 active issues" {
		t.Errorf("healthy: %q", got)
	}
	inject(t, cl)
	deadline := time.Now().Add(10 * time.Second)
	for got := run(); got != "luminous-healing: critical, 1 active issue"; got = run() {
		if time.Now().After(deadline) {
			t.Fatalf("after an issue: %q; want critical, 1 active issue", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
