package engine

import (
	"errors"
	"fmt"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// Code classifies an operator call's failure; transports map it to their
// own errors (D-Bus: org.luminous.Healing1.Error.<Code>).
type Code int

const (
	InvalidArgument Code = iota
	NotFound
	RateLimited
	Unavailable
	ActionFailed
)

func (c Code) String() string {
	return [...]string{"InvalidArgument", "NotFound", "RateLimited", "Unavailable", "ActionFailed"}[c]
}

// Error is an operator call's failure. Msg is one line meant for the
// person who made the call; it never carries internal detail.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// resultErr turns an action's result into the error an operator gets, or
// nil when it succeeded or was planned.
func resultErr(res heal.Result) error {
	switch res.Outcome {
	case heal.Succeeded, heal.Planned:
		return nil
	}
	code := ActionFailed
	switch {
	case errors.Is(res.Err, heal.ErrNotFound):
		code = NotFound
	case errors.Is(res.Err, heal.ErrProtected), errors.Is(res.Err, heal.ErrSelf):
		code = InvalidArgument
	case errors.Is(res.Err, heal.ErrLimited):
		code = RateLimited
	case errors.Is(res.Err, heal.ErrUnavailable):
		code = Unavailable
	}
	return &Error{Code: code, Msg: res.Message}
}
