package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// version is healingctl's, as Run was given it; cmd/healingctl sets it
// at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Timeouts: reads answer at once; a privileged call may wait for a person
// to type a password and then for systemd's job.
const (
	readTimeout   = 25 * time.Second
	actionTimeout = 5 * time.Minute
)

// env is what every command gets: the global flags, where to write, and a
// way to reach the daemon.
type env struct {
	json        bool
	noAsk       bool
	user        bool
	stdout      io.Writer
	stderr      io.Writer
	interactive bool // a person at a terminal may answer a password prompt
}

func newEnv(c *cli.Context) *env {
	e := &env{json: global(c, "json"), noAsk: global(c, "no-ask-password"), user: global(c, "user"),
		stdout: c.App.Writer, stderr: c.App.ErrWriter}
	e.interactive = !e.noAsk && show.IsTerminal(os.Stdin)
	if c.App.Metadata != nil {
		c.App.Metadata[envKey] = e // for runContext's explanation of an error
	}
	return e
}

// envKey is where newEnv leaves the command's env in the app's metadata.
const envKey = "env"

// global reports whether a global flag was given before or after the
// command: each level has its own copy of it.
func global(c *cli.Context, name string) bool {
	for _, x := range c.Lineage() {
		if x.Bool(name) {
			return true
		}
	}
	return false
}

// dial connects to the daemon; privileged asks polkit to allow a password
// prompt when a person is there to answer it.
func (e *env) dial(ctx context.Context, privileged bool) (*client.Client, error) {
	return client.Dial(ctx, client.Options{User: e.user, Interactive: privileged && e.interactive && !e.user})
}

// read runs fn against the daemon with the read timeout.
func (e *env) read(c *cli.Context, fn func(context.Context, *client.Client) error) error {
	return e.readCtx(c.Context, fn)
}

// readCtx is read with a parent context.
func (e *env) readCtx(parent context.Context, fn func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithTimeout(parent, readTimeout)
	defer cancel()
	cl, err := e.dial(ctx, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(ctx, cl)
}

// act runs a privileged fn, with a text polkit agent on a terminal.
func (e *env) act(c *cli.Context, fn func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithTimeout(c.Context, actionTimeout)
	defer cancel()
	cl, err := e.dial(ctx, true)
	if err != nil {
		return err
	}
	defer cl.Close()
	if e.interactive && !e.user {
		stop := startAgent(e.stderr)
		defer stop()
	}
	return fn(ctx, cl)
}

// globalFlags are accepted before the command and after it
// (healingctl issues --json), as people type them.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print JSON (the D-Bus records, keys in snake_case) instead of tables"},
		&cli.BoolFlag{Name: "no-ask-password", Usage: "never ask for a password: fail with exit code 4 where polkit would ask"},
		&cli.BoolFlag{Name: "user", Usage: "talk to luminous-healingd --user (the try-it mode) on the session bus"},
	}
}

// badValue is the flag package's "invalid value "-1" for flag -n: parse
// error", which says neither which flag nor what it takes.
var badValue = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): parse error$`)

func onUsageError(c *cli.Context, err error, _ bool) error {
	if m := badValue.FindStringSubmatch(err.Error()); m != nil {
		name := m[2]
		for _, f := range c.Command.Flags {
			if slices.Contains(f.Names(), name) {
				name = f.Names()[0]
			}
		}
		return show.Usagef("--%s: %q is not a valid value; see 'healingctl %s --help'", name, m[1], c.Command.FullName())
	}
	return show.UsageError{Msg: err.Error()}
}

// prepare gives every command the global flags and quiet usage errors.
func prepare(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.Flags = append(cmd.Flags, globalFlags()...)
		cmd.OnUsageError = onUsageError
		prepare(cmd.Subcommands)
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "healingctl",
		Usage:   "control luminous-healingd, the self-healing daemon",
		Version: version,
		Description: "Everyone may read the status, issues, predictions and history. Healing and settings are\n" +
			"decided by polkit: on a terminal you may be asked for a password; --no-ask-password\n" +
			"turns that off. Exit codes: 0 success, 1 failure, 2 usage error, 3 daemon not reachable,\n" +
			"4 access denied.",
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                globalFlags(),
		Commands: []*cli.Command{
			statusCommand(), issuesCommand(), predictCommand(), historyCommand(),
			healCommand(), restartCommand(), cleanupCommand(), throttleCommand(), releaseCommand(), resetCommand(),
			silenceCommand(), probeCommand(), setCommand(), reloadCommand(), injectCommand(), watchCommand(), dashboardCommand(),
			versionCommand(), completionCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
	}
	prepare(app.Commands)
	return app
}

// Run is healingctl: it runs the command line args (args[0] is the
// program's name) as version and returns the exit status.
func Run(v string, args []string, stdout, stderr io.Writer) int {
	version = v
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext runs healingctl until it is done or ctx ends.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Metadata = map[string]any{}
	var unknown string
	app.CommandNotFound = func(c *cli.Context, name string) { unknown = name }
	err := app.RunContext(ctx, args)
	if err == nil && unknown != "" {
		err = show.Usagef("no command %q", unknown)
	}
	if err == nil {
		return show.ExitOK
	}
	user, interactive, asJSON := false, false, jsonAsked(args)
	if e, ok := app.Metadata[envKey].(*env); ok {
		user, interactive, asJSON = e.user, e.interactive, e.json
	}
	code, msg := show.Explain(err, user, interactive)
	if asJSON {
		printJSONError(stderr, err, code, msg)
	} else {
		fmt.Fprintln(stderr, msg)
	}
	return code
}

// jsonAsked reports whether --json is among args, for errors found before
// a command ran (a bad flag, an unknown command).
func jsonAsked(args []string) bool {
	for _, a := range args[min(1, len(args)):] {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true":
			return true
		}
	}
	return false
}

// jsonError is what healingctl --json writes on stderr when it fails, so
// that a script reads errors the way it reads results; the exit code is the
// same as without --json.
type jsonError struct {
	Error     string `json:"error"`                // what happened, one line
	Hint      string `json:"hint,omitempty"`       // what to do next
	ExitCode  int    `json:"exit_code"`            // as the process exits
	DBusError string `json:"dbus_error,omitempty"` // the daemon's D-Bus error name, where it answered with one
}

func printJSONError(w io.Writer, err error, code int, msg string) {
	first, hint, _ := strings.Cut(msg, "\n")
	je := jsonError{Error: strings.TrimPrefix(first, "healingctl: "), Hint: hint, ExitCode: code}
	var ce *client.Error
	if errors.As(err, &ce) {
		je.DBusError = ce.Name
	}
	b, _ := json.Marshal(je)
	fmt.Fprintf(w, "%s\n", b)
}

// args checks a command's positional arguments.
func args(c *cli.Context, names ...string) ([]string, error) {
	switch {
	case c.NArg() > len(names) && len(names) == 0:
		return nil, show.Usagef("%s takes no arguments, got %s", c.Command.Name, strconv.Quote(client.Printable(c.Args().First())))
	case c.NArg() > len(names):
		return nil, show.Usagef("%s: too many arguments: %s takes only %s, got %s too", c.Command.Name, c.Command.Name,
			strings.ToUpper(strings.Join(names, " ")), strconv.Quote(client.Printable(c.Args().Get(len(names)))))
	case c.NArg() < len(names):
		return nil, show.Usagef("%s needs %s", c.Command.Name, strings.ToUpper(strings.Join(names, " ")))
	}
	return c.Args().Slice(), nil
}
