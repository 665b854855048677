package manpage

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The committed pages render without a single troff warning, and man shows
// each one's NAME line: what `man healingctl` prints is readable.
func TestTheCommittedPagesRender(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/man/*.[0-9]")
	if len(pages) != 3 {
		t.Fatalf("docs/man holds %q; want healingctl.1, luminous-healing.toml.5 and luminous-healingd.8", pages)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		skipOrFail(t, "groff is not installed (apt-get install groff-base)")
	}
	man, err := exec.LookPath("man")
	if err != nil {
		skipOrFail(t, "man is not installed (apt-get install man-db)")
	}
	for _, page := range pages {
		t.Run(filepath.Base(page), func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", page)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("groff -man -ww %s: %v\n%s", page, err, stderr.String())
			}
			cmd = exec.Command(man, "-l", page)
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "PAGER=cat", "MANPAGER=cat")
			stderr.Reset()
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("man -l %s: %v\n%s", page, err, stderr.String())
			}
			out = overstrike.ReplaceAll(out, nil) // bold and underline, as a terminal would show them
			name := strings.TrimSuffix(filepath.Base(page), filepath.Ext(page))
			if !regexp.MustCompile(`NAME\n +` + regexp.QuoteMeta(name) + ` +- `).Match(out) {
				t.Errorf("man -l %s shows no NAME line for %s:\n%s", page, name, out)
			}
		})
	}
}

var overstrike = regexp.MustCompile(".\x08")

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + ", but CI must run this test: .ci/run installs it")
	}
	t.Skip("SKIPPED, NOT PASSED: " + why)
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		`--json`:       `\-\-json`,
		`C:\dir`:       `C:\edir`,
		"≥ 1":          `\[u2265] 1`,
		".starts here": `.starts here`, // safeLine's business, not Escape's
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q; want %q", in, got, want)
		}
	}
	if got := safeLine(".TH oops"); got != `\&.TH oops` {
		t.Errorf("safeLine = %q; want the request defused", got)
	}
}

// Every visible command and flag of an app reaches the page, so a command
// added later is documented without anyone touching the generator.
func TestFromAppListsEveryVisibleCommandAndFlag(t *testing.T) {
	app := &cli.App{
		Name: "demo", Usage: "show things", Description: "Longer.\n\n   demo show\n\nDone.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Commands: []*cli.Command{
			{Name: "show", Usage: "show one", ArgsUsage: "THING", Flags: []cli.Flag{
				&cli.IntFlag{Name: "limit", Aliases: []string{"n"}, Value: 20, Usage: "at most `N`"},
				&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			}},
			{Name: "set", Usage: "change", Subcommands: []*cli.Command{{Name: "mode", ArgsUsage: "on|off", Usage: "the mode"}}},
			{Name: "secret", Hidden: true},
		},
		Writer: io.Discard,
	}
	got := string(FromApp(app, "1", "User Commands", []string{B("demo")}, []string{"json"}).Roff())
	for _, want := range []string{
		".TH DEMO 1 \"\" \"luminous-healing\" \"User Commands\"\n",
		"demo \\- show things\n",
		".SH OPTIONS\n.TP\n\\fB\\-\\-json\\fR\nprint JSON\n",
		".TP\n\\fBshow\\fR \\fITHING\\fR\nshow one\n.RS\n.TP\n\\fB\\-\\-limit\\fR \\fIN\\fR, \\fB\\-n\\fR \\fIN\\fR\nat most N (default: 20)\n.RE\n",
		".TP\n\\fBset\\fR \\fBmode\\fR \\fIon|off\\fR\nthe mode\n",
		".RS 4\n.nf\ndemo show\n.fi\n.RE\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks\n%s\nin\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret") || strings.Count(got, "print JSON") != 1 {
		t.Errorf("a hidden command, or the global flag repeated under a command:\n%s", got)
	}
}

func TestConfigFileReadsKeysDefaultsAndComments(t *testing.T) {
	intro, tables := ConfigFile([]byte(`# heading
#
# What the file is.

[monitoring]            # how it looks
interval = "60s"
metrics = true          # serve /metrics
# mounts = ["/"]        # left out: / plus more
                        # where separate
# Prose about the next key.
for = 2                 # samples

[actions]               # overrides
# load = "throttle"     # kinds: a b;
`))
	if intro != "What the file is." {
		t.Errorf("intro = %q", intro)
	}
	if len(tables) != 2 || tables[0].Title != "[monitoring]" || tables[0].Text != "how it looks" {
		t.Fatalf("tables = %+v", tables)
	}
	want := []Item{
		{Term: `\fBinterval\fR = "60s"`},
		{Term: `\fBmetrics\fR = true`, Text: "serve /metrics"},
		{Term: `\fBmounts\fR`, Text: "left out: / plus more where separate\n\nLeft out by default; for example: mounts = [\"/\"]."},
		{Term: `\fBfor\fR = 2`, Text: "Prose about the next key. samples"},
	}
	for i, w := range want {
		if i >= len(tables[0].Items) || tables[0].Items[i].Term != w.Term || tables[0].Items[i].Text != w.Text {
			t.Errorf("item %d = %+v; want %+v", i, tables[0].Items, w)
			break
		}
	}
	if it := tables[1].Items; len(it) != 1 || it[0].Term != `\fBload\fR` {
		t.Errorf("[actions] items = %+v; want load", it)
	}
}

func TestConfigFileReadsACommentedArrayOfTables(t *testing.T) {
	_, tables := ConfigFile([]byte(`# heading

[dbus]
window = "5m"

# Windows, none by default.
# [[maintenance]]
# when = "Sun 02:00..04:00"   # when it recurs
`))
	if len(tables) != 2 || tables[1].Title != "[[maintenance]]" || tables[1].Text != "Windows, none by default." {
		t.Fatalf("tables = %+v; want [dbus] and [[maintenance]] with its prose", tables)
	}
	if len(tables[0].Items) != 1 {
		t.Errorf("[dbus] items = %+v; want window alone", tables[0].Items)
	}
	if it := tables[1].Items; len(it) != 1 || it[0].Term != `\fBwhen\fR` || !strings.HasPrefix(it[0].Text, "when it recurs") {
		t.Errorf("[[maintenance]] items = %+v; want when", it)
	}
}
