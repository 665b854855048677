package bustest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// AgentAnswer is what a FakeAgent does when polkit asks it to authenticate
// someone.
type AgentAnswer int

const (
	// Authenticate succeeds as the first identity polkit offers, as if the
	// user had typed that identity's password.
	Authenticate AgentAnswer = iota
	// Dismiss fails with org.freedesktop.PolicyKit1.Error.Cancelled, as an
	// agent does when the user closes the dialog.
	Dismiss
	// Ignore does not answer until polkit cancels the authentication (or
	// the test ends), like a dialog nobody looks at.
	Ignore
)

// AgentRequest is one BeginAuthentication call a FakeAgent received.
type AgentRequest struct {
	Action     string
	Message    string
	Details    map[string]string
	Cookie     string
	Identities []Identity
}

// Identity is a polkit identity, e.g. ("unix-user", {"uid": 0}).
type Identity struct {
	Kind    string
	Details map[string]dbus.Variant
}

// FakeAgent is a polkit authentication agent for the test process, for use
// with the real polkitd (StartPolkitd). polkit asks it whenever a check of a
// subject in this process allows interaction and needs authentication; every
// connection from Bus.Conn and Bus.ConnAs is such a subject, because they all
// share this process's PID.
type FakeAgent struct {
	conn   *dbus.Conn
	answer AgentAnswer

	begun     received[AgentRequest]
	cancelled received[string]
	mu        sync.Mutex
	pending   map[string]chan struct{}
	stopped   chan struct{}
}

const agentPath = dbus.ObjectPath("/org/luminous/bustest/Agent")

// NewFakeAgent registers an authentication agent that answers every request
// with answer. polkit must already be on b.
func NewFakeAgent(t testing.TB, b *Bus, answer AgentAnswer) *FakeAgent {
	t.Helper()
	a := &FakeAgent{
		conn:    b.Conn(t),
		answer:  answer,
		pending: make(map[string]chan struct{}),
		stopped: make(chan struct{}),
	}
	t.Cleanup(func() { close(a.stopped) })
	if err := a.conn.Export(agentMethods{a}, agentPath, "org.freedesktop.PolicyKit1.AuthenticationAgent"); err != nil {
		t.Fatalf("bustest: exporting fake agent: %v", err)
	}
	start, err := processStartTime()
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	process := Identity{"unix-process", map[string]dbus.Variant{
		"pid":        dbus.MakeVariant(uint32(os.Getpid())),
		"start-time": dbus.MakeVariant(start),
	}}
	err = a.conn.Object(AuthorityName, AuthorityPath).Call(AuthorityInterface+".RegisterAuthenticationAgent", 0,
		process, "C", string(agentPath)).Err
	if err != nil {
		t.Fatalf("bustest: registering fake agent with polkit: %v", err)
	}
	return a
}

// Begun returns every authentication polkit asked for, in order.
func (a *FakeAgent) Begun() []AgentRequest { return a.begun.all() }

// Cancelled returns the cookies of every authentication polkit cancelled.
func (a *FakeAgent) Cancelled() []string { return a.cancelled.all() }

// NotifyCancel relays the cookie of every CancelAuthentication to ch as it
// arrives; polkit sends it on its own time, after answering the check. Sends
// do not block.
func (a *FakeAgent) NotifyCancel(ch chan<- string) { a.cancelled.notify(ch) }

// agentMethods holds exactly the methods exported on the bus.
type agentMethods struct {
	a *FakeAgent
}

// BeginAuthentication implements the polkit agent method of the same name.
func (m agentMethods) BeginAuthentication(action, message, icon string, details map[string]string, cookie string, identities []Identity) *dbus.Error {
	a := m.a
	a.mu.Lock()
	a.begun.add(AgentRequest{action, message, details, cookie, identities})
	cancelled := make(chan struct{})
	a.pending[cookie] = cancelled
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, cookie)
		a.mu.Unlock()
	}()

	switch a.answer {
	case Authenticate:
		if len(identities) == 0 {
			return dbus.NewError(ErrorFailed, []any{"no identity to authenticate as"})
		}
		// What polkit-agent-helper-1 does after checking the password;
		// only uid 0 may call it, and the agent's connection is root's.
		err := a.conn.Object(AuthorityName, AuthorityPath).Call(AuthorityInterface+".AuthenticationAgentResponse2", 0,
			uint32(0), cookie, identities[0]).Err
		if err != nil {
			return dbus.NewError(ErrorFailed, []any{err.Error()})
		}
		return nil
	case Dismiss:
		return dbus.NewError(ErrorCancelled, []any{"dismissed by the fake agent"})
	default:
		select {
		case <-cancelled:
		case <-a.stopped:
		}
		return dbus.NewError(ErrorCancelled, []any{"cancelled"})
	}
}

// CancelAuthentication implements the polkit agent method of the same name.
func (m agentMethods) CancelAuthentication(cookie string) *dbus.Error {
	a := m.a
	a.mu.Lock()
	defer a.mu.Unlock()
	// Recorded before the pending authentication learns of it, so that
	// whoever sees that sees the record too.
	a.cancelled.add(cookie)
	if ch, ok := a.pending[cookie]; ok {
		close(ch)
		delete(a.pending, cookie)
	}
	return nil
}

// processStartTime returns field 22 of /proc/self/stat, the start time polkit
// uses together with the PID to name a process.
func processStartTime() (uint64, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// Fields after the command name, which may contain spaces and
	// parentheses, start with field 3.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc/self/stat: %q", s)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("cannot parse /proc/self/stat: %q", s)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
