package ctl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/ctl/ctltest"
	"github.com/luminous-healing/luminous-healing/internal/manpage"
)

// healingctl(1) is --help's text: the app's usage and description, the
// global flags, every visible command with its arguments, flags and
// subcommands (a command added later appears by itself), then what --help
// has no room for.
func healingctlPage() *manpage.Page {
	var global []string
	for _, f := range globalFlags() {
		global = append(global, f.Names()[0])
	}
	return manpage.FromApp(newApp(io.Discard, io.Discard), "1", "User Commands",
		[]string{manpage.B("healingctl") + " [" + manpage.B("--json") + "] [" + manpage.B("--no-ask-password") + "] [" +
			manpage.B("--user") + "] " + manpage.I("COMMAND") + " [" + manpage.I("ARGUMENTS") + "]"},
		global,
		manpage.Section{Title: "Exit status", Items: []manpage.Item{
			{Term: manpage.B("0"), Text: "Success."},
			{Term: manpage.B("1"), Text: "Failure: the daemon refused or the action failed; the message says why."},
			{Term: manpage.B("2"), Text: "Usage error: a wrong command, argument or flag."},
			{Term: manpage.B("3"), Text: "The daemon is not reachable: start it (systemctl start luminous-healing) or use --user for the try-it mode."},
			{Term: manpage.B("4"), Text: "Access denied by polkit."},
		}},
		manpage.Section{Title: "Examples", Text: "   healingctl status\n   healingctl restart nginx\n   healingctl --json issues | jq -r '.[].id'\n   healingctl watch --notify\n   healingctl silence add unit:nginx --for 2h --reason \"upgrading nginx\"\n   healingctl silence list"},
		manpage.Section{Title: "See also", Text: "luminous-healingd(8), luminous-healing.toml(5), busctl(1), pkexec(1), polkit(8); the documentation in /usr/share/doc/luminous-healing/."},
	)
}

func TestManPageIsCurrent(t *testing.T) {
	page := healingctlPage()
	path := filepath.Join("..", "..", "docs", "man", "healingctl.1")
	got := page.Roff()
	want, err := os.ReadFile(path)
	if ctltest.Update() {
		if !bytes.Equal(got, want) {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("docs/man/healingctl.1 is not what --help says now; regenerate it with\n\tgo test ./internal/ctl -run TestManPageIsCurrent -update")
	}
}
