package ctl

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// daemonCall is a command's work against the daemon: e is the command's
// env, a its positional arguments.
type daemonCall func(ctx context.Context, e *env, cl *client.Client, a []string) error

// reads is the Action of a command that takes the arguments names and
// reads from the daemon, with the read timeout.
func reads(names []string, fn daemonCall) cli.ActionFunc { return onDaemon(false, names, fn) }

// acts is the Action of a command that takes the arguments names and
// makes a privileged call: polkit may ask for a password on a terminal.
func acts(names []string, fn daemonCall) cli.ActionFunc { return onDaemon(true, names, fn) }

func onDaemon(privileged bool, names []string, fn daemonCall) cli.ActionFunc {
	return func(c *cli.Context) error {
		a, err := args(c, names...)
		if err != nil {
			return err
		}
		e := newEnv(c)
		call := e.read
		if privileged {
			call = e.act
		}
		return call(c, func(ctx context.Context, cl *client.Client) error { return fn(ctx, e, cl, a) })
	}
}

// lists is the Action of a command that prints a list of records: as
// JSON, none's sentence when there are none (unless none is empty), else
// print's table.
func lists[T any](get func(*client.Client, context.Context) ([]T, error), none string, print func(w io.Writer, xs []T)) cli.ActionFunc {
	return reads(nil, func(ctx context.Context, e *env, cl *client.Client, _ []string) error {
		xs, err := get(cl, ctx)
		switch {
		case err != nil:
			return err
		case e.json:
			return printJSON(e.stdout, records(xs))
		case len(xs) == 0 && none != "":
			_, err := io.WriteString(e.stdout, none+"\n")
			return err
		}
		print(e.stdout, xs)
		return nil
	})
}

// done says in one line what a call that answers nothing changed, once
// it succeeded (err is its error); with --json it prints nothing, and the
// exit status says it.
func (e *env) done(err error, format string, args ...any) error {
	if err == nil && !e.json {
		fmt.Fprintf(e.stdout, format+"\n", args...)
	}
	return err
}

// answer prints a call's answer: its record as JSON with --json, else
// line.
func (e *env) answer(record any, line string) error {
	if e.json {
		return printJSON(e.stdout, record)
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}
