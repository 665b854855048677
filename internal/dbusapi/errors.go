package dbusapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
)

// newError builds one of the interface's named errors with a one-line
// message for the caller.
func newError(name, format string, args ...any) *dbus.Error {
	return &dbus.Error{Name: name, Body: []any{oneLine(fmt.Sprintf(format, args...))}}
}

func invalid(format string, args ...any) *dbus.Error {
	return newError(client.ErrorInvalidArgument, format, args...)
}

var codeNames = map[engine.Code]string{
	engine.InvalidArgument: client.ErrorInvalidArgument,
	engine.NotFound:        client.ErrorNotFound,
	engine.RateLimited:     client.ErrorRateLimited,
	engine.Unavailable:     client.ErrorUnavailable,
	engine.ActionFailed:    client.ErrorActionFailed,
}

// (s *Server) replyErr turns an engine error into the D-Bus error the
// caller gets. Only *engine.Error messages are meant for callers (and the
// interface's own named errors, which the server built, passed on as they
// are); anything else is logged
// and replaced by a generic line, so internal text never reaches a caller
// (and no caller ever sees org.freedesktop.DBus.Error.Failed).
func (s *Server) replyErr(method string, err error) *dbus.Error {
	if err == nil {
		return nil
	}
	var de *dbus.Error
	if errors.As(err, &de) && strings.HasPrefix(de.Name, client.Interface+".Error.") {
		return de
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		if name, ok := codeNames[ee.Code]; ok {
			return newError(name, "%s", ee.Msg)
		}
	}
	s.log.Error("call failed", "method", method, "err", err)
	return newError(client.ErrorActionFailed, "%s failed inside the daemon; `journalctl -u luminous-healing` says why", method)
}

// oneLine keeps messages to one line of bounded length.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
