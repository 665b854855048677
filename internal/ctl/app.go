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
)

// version is healingctl's, as Run was given it; cmd/healingctl sets it
// at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes, as docs/healingctl.md lists them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitDenied      = 4
)

// Timeouts: reads answer at once; a privileged call may wait for a person
// to type a password and then for systemd's job.
const (
	readTimeout   = 25 * time.Second
	actionTimeout = 5 * time.Minute
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

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
	e.interactive = !e.noAsk && isTerminal(os.Stdin)
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
		return usagef("--%s: %q is not a valid value; see 'healingctl %s --help'", name, m[1], c.Command.FullName())
	}
	return usageError{err.Error()}
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
		err = usagef("no command %q", unknown)
	}
	if err == nil {
		return exitOK
	}
	user, interactive, asJSON := false, false, jsonAsked(args)
	if e, ok := app.Metadata[envKey].(*env); ok {
		user, interactive, asJSON = e.user, e.interactive, e.json
	}
	code, msg := explain(err, user, interactive)
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

// explain turns an error into an exit code and one or two lines that say
// what happened and what to do next.
func explain(err error, user, interactive bool) (int, string) {
	var ue usageError
	var ce *client.Error
	switch {
	case errors.As(err, &ue):
		return exitUsage, "healingctl: " + ue.msg + "\nRun 'healingctl --help' for usage."
	case errors.As(err, new(busLost)):
		return exitUnreachable, "healingctl: " + err.Error() + " (dbus-daemon stopped, or dropped this client).\n" +
			"Start it again once the bus is back; as a systemd unit with Restart=on-failure it is restarted for you."
	case errors.Is(err, client.ErrUnreachable):
		if user {
			return exitUnreachable, "healingctl: luminous-healingd --user is not reachable on your session bus (" + err.Error() + ").\n" +
				"Start it with 'luminous-healingd --user' and export the DBUS_SESSION_BUS_ADDRESS it prints."
		}
		return exitUnreachable, "healingctl: luminous-healingd is not running (" + err.Error() + ").\n" +
			"Start it with 'sudo systemctl enable --now luminous-healing', or try 'luminous-healingd --user'."
	case errors.Is(err, client.ErrInteractiveAuthorizationRequired) && interactive:
		return exitDenied, "healingctl: access denied: this needs an administrator's authentication, and polkit found no agent to ask with.\n" +
			"Install pkttyagent (Debian: apt install polkitd), or run it as root (sudo healingctl …)."
	case errors.Is(err, client.ErrInteractiveAuthorizationRequired):
		return exitDenied, "healingctl: access denied: this needs an administrator's authentication, and no password may be asked.\n" +
			"Run it on a terminal without --no-ask-password, or as root (sudo healingctl …)."
	case errors.Is(err, client.ErrAccessDenied):
		if user {
			return exitDenied, "healingctl: access denied: the try-it mode accepts changes only from the user who started it."
		}
		return exitDenied, "healingctl: access denied by polkit.\n" +
			"Run it as root (sudo healingctl …), or ask an administrator for the rights (docs/healingctl.md, \"Who may do what\")."
	case errors.Is(err, context.DeadlineExceeded):
		return exitFailure, "healingctl: the daemon did not answer in time; 'journalctl -u luminous-healing' may say why."
	case errors.As(err, &ce) && ce.Name == client.ErrorInvalidArgument:
		// The daemon judged an argument the user typed: a usage error.
		return exitUsage, "healingctl: " + ce.Message + hint(ce)
	case errors.As(err, &ce):
		return exitFailure, "healingctl: " + ce.Message + hint(ce)
	}
	return exitFailure, "healingctl: " + strings.TrimSpace(err.Error())
}

func hint(ce *client.Error) string {
	switch ce.Name {
	case client.ErrorRateLimited:
		return "\nThe daemon limits privileged calls per user ([dbus] in its configuration)."
	case client.ErrorUnavailable:
		return "\n'journalctl -u luminous-healing' says more."
	}
	return ""
}

// args checks a command's positional arguments.
func args(c *cli.Context, names ...string) ([]string, error) {
	switch {
	case c.NArg() > len(names) && len(names) == 0:
		return nil, usagef("%s takes no arguments, got %s", c.Command.Name, strconv.Quote(client.Printable(c.Args().First())))
	case c.NArg() > len(names):
		return nil, usagef("%s: too many arguments: %s takes only %s, got %s too", c.Command.Name, c.Command.Name,
			strings.ToUpper(strings.Join(names, " ")), strconv.Quote(client.Printable(c.Args().Get(len(names)))))
	case c.NArg() < len(names):
		return nil, usagef("%s needs %s", c.Command.Name, strings.ToUpper(strings.Join(names, " ")))
	}
	return c.Args().Slice(), nil
}
