package show

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// Exit codes, as docs/healingctl.md lists them.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	ExitDenied      = 4
)

// UsageError is a mistake on the command line.
type UsageError struct{ Msg string }

func (u UsageError) Error() string { return u.Msg }

// Usagef is a UsageError.
func Usagef(format string, args ...any) error { return UsageError{Msg: fmt.Sprintf(format, args...)} }

// ErrBusLost ends a watch whose bus connection closed (dbus-daemon
// stopped or dropped us), with exit code 3 so that a supervisor
// (the notifier's systemd unit) starts it again.
var ErrBusLost = busLost{}

type busLost struct{}

func (busLost) Error() string { return "the connection to the bus closed" }

// Explain turns an error into an exit code and one or two lines that say
// what happened and what to do next. user is the try-it mode;
// interactive says a password could have been asked.
func Explain(err error, user, interactive bool) (int, string) {
	var ue UsageError
	var ce *client.Error
	switch {
	case errors.As(err, &ue):
		return ExitUsage, "healingctl: " + ue.Msg + "\nRun 'healingctl --help' for usage."
	case errors.As(err, new(busLost)):
		return ExitUnreachable, "healingctl: " + err.Error() + " (dbus-daemon stopped, or dropped this client).\n" +
			"Start it again once the bus is back; as a systemd unit with Restart=on-failure it is restarted for you."
	case errors.Is(err, client.ErrUnreachable):
		if user {
			return ExitUnreachable, "healingctl: luminous-healingd --user is not reachable on your session bus (" + err.Error() + ").\n" +
				"Start it with 'luminous-healingd --user' and export the DBUS_SESSION_BUS_ADDRESS it prints."
		}
		return ExitUnreachable, "healingctl: luminous-healingd is not running (" + err.Error() + ").\n" +
			"Start it with 'sudo systemctl enable --now luminous-healing', or try 'luminous-healingd --user'."
	case errors.Is(err, client.ErrInteractiveAuthorizationRequired) && interactive:
		return ExitDenied, "healingctl: access denied: this needs an administrator's authentication, and polkit found no agent to ask with.\n" +
			"Install pkttyagent (Debian: apt install polkitd), or run it as root (sudo healingctl …)."
	case errors.Is(err, client.ErrInteractiveAuthorizationRequired):
		return ExitDenied, "healingctl: access denied: this needs an administrator's authentication, and no password may be asked.\n" +
			"Run it on a terminal without --no-ask-password, or as root (sudo healingctl …)."
	case errors.Is(err, client.ErrAccessDenied):
		if user {
			return ExitDenied, "healingctl: access denied: the try-it mode accepts changes only from the user who started it."
		}
		return ExitDenied, "healingctl: access denied by polkit.\n" +
			"Run it as root (sudo healingctl …), or ask an administrator for the rights (docs/healingctl.md, \"Who may do what\")."
	case errors.Is(err, context.DeadlineExceeded):
		return ExitFailure, "healingctl: the daemon did not answer in time; 'journalctl -u luminous-healing' may say why."
	case errors.As(err, &ce) && ce.Name == client.ErrorInvalidArgument:
		// The daemon judged an argument the user typed: a usage error.
		return ExitUsage, "healingctl: " + ce.Message + hint(ce)
	case errors.As(err, &ce):
		return ExitFailure, "healingctl: " + ce.Message + hint(ce)
	}
	return ExitFailure, "healingctl: " + strings.TrimSpace(err.Error())
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
