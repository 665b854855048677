package bustest

import (
	"maps"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// The polkit Authority's address on the bus.
const (
	AuthorityName      = "org.freedesktop.PolicyKit1"
	AuthorityPath      = dbus.ObjectPath("/org/freedesktop/PolicyKit1/Authority")
	AuthorityInterface = "org.freedesktop.PolicyKit1.Authority"
)

// Answer is what the fake authority does with a CheckAuthorization call.
type Answer int

const (
	// No replies "not authorized, no challenge", as polkit does for an
	// action whose default is "no". It is the answer to anything not
	// scripted.
	No Answer = iota
	// Yes replies "authorized".
	Yes
	// Challenge replies "not authorized, but authentication would help",
	// as polkit does for auth_admin when interaction was not allowed.
	Challenge
	// Dismissed replies "not authorized" with the detail
	// polkit.dismissed=true, as polkit does when the user closed the
	// password dialog.
	Dismissed
	// Fail replies with the D-Bus error org.freedesktop.PolicyKit1.Error.Failed.
	Fail
	// Malformed replies with a string instead of the (bba{ss}) result.
	Malformed
	// Never does not reply until the check is cancelled with
	// CancelCheckAuthorization (then it replies with
	// org.freedesktop.PolicyKit1.Error.Cancelled, as polkit does) or the
	// test ends.
	Never
)

// The D-Bus errors the fake replies with; polkit uses the same names.
const (
	ErrorFailed    = "org.freedesktop.PolicyKit1.Error.Failed"
	ErrorCancelled = "org.freedesktop.PolicyKit1.Error.Cancelled"
)

// Request is one CheckAuthorization call as the fake authority received it.
type Request struct {
	// Sender is the unique name of the connection that asked polkit, which
	// is the daemon, not the subject.
	Sender string
	// SubjectKind is the subject's kind: "system-bus-name",
	// "unix-process", ...
	SubjectKind string
	// SubjectName is the subject's "name" detail when it is a string; for
	// a system-bus-name subject it is the caller's unique bus name.
	SubjectName string
	// SubjectDetails is the subject's full details dictionary.
	SubjectDetails map[string]dbus.Variant
	Action         string
	Details        map[string]string
	Flags          uint32
	CancellationID string
}

// FakeAuthority stands in for polkitd: it owns org.freedesktop.PolicyKit1 on a
// bus, answers CheckAuthorization as scripted, and records what it was asked.
// Callers are told apart by their unique bus name, which is how the real
// polkit identifies a system-bus-name subject too; use Bus.ConnAs where the
// caller's uid itself matters.
type FakeAuthority struct {
	requests  received[Request]
	cancelled received[string]
	mu        sync.Mutex
	answers   map[answerKey]Answer
	pending   map[pendingKey]chan struct{}
	stopped   chan struct{}
}

// answerKey scripts an answer; an empty field matches anything.
type answerKey struct {
	subject, action string
}

// pendingKey identifies a check polkit could cancel: cancellation ids are
// scoped to the connection that sent them.
type pendingKey struct {
	sender, id string
}

// NewFakeAuthority exports a fake polkit authority on b from its own
// connection and takes the name org.freedesktop.PolicyKit1. It fails the test
// if the name is already owned.
func NewFakeAuthority(t testing.TB, b *Bus) *FakeAuthority {
	t.Helper()
	f := &FakeAuthority{
		answers: make(map[answerKey]Answer),
		pending: make(map[pendingKey]chan struct{}),
		stopped: make(chan struct{}),
	}
	conn := b.Conn(t)
	// Replies to checks left pending must not outlive the test.
	t.Cleanup(func() { close(f.stopped) })

	if err := conn.Export(authorityMethods{f}, AuthorityPath, AuthorityInterface); err != nil {
		t.Fatalf("bustest: exporting fake authority: %v", err)
	}
	if err := conn.Export(introspect.Introspectable(authorityIntrospection), AuthorityPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatalf("bustest: exporting fake authority introspection: %v", err)
	}
	reply, err := conn.RequestName(AuthorityName, dbus.NameFlagDoNotQueue)
	if err != nil {
		t.Fatalf("bustest: requesting %s: %v", AuthorityName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("bustest: requesting %s: got %v; want primary owner", AuthorityName, reply)
	}
	return f
}

// Answer scripts the answer to every check of action, for any subject.
func (f *FakeAuthority) Answer(action string, a Answer) {
	f.AnswerFor("", action, a)
}

// AnswerFor scripts the answer to checks of action for one subject, named by
// its unique bus name. An empty action matches every action. The most
// specific script wins: subject and action, then subject, then action.
func (f *FakeAuthority) AnswerFor(subject, action string, a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[answerKey{subject, action}] = a
}

func (f *FakeAuthority) answer(subject, action string) Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range []answerKey{{subject, action}, {subject, ""}, {"", action}} {
		if a, ok := f.answers[k]; ok {
			return a
		}
	}
	return No
}

// Requests returns a copy of every CheckAuthorization call received so far,
// in order of arrival.
func (f *FakeAuthority) Requests() []Request {
	out := f.requests.all()
	for i := range out {
		out[i].SubjectDetails = maps.Clone(out[i].SubjectDetails)
		out[i].Details = maps.Clone(out[i].Details)
	}
	return out
}

// Cancelled returns the cancellation ids of every CancelCheckAuthorization
// call received so far, whether or not a check with that id was pending.
func (f *FakeAuthority) Cancelled() []string { return f.cancelled.all() }

// Notify relays every request to ch as it arrives, before it is answered.
// Sends do not block: a request that does not fit in ch is not relayed.
func (f *FakeAuthority) Notify(ch chan<- Request) { f.requests.notify(ch) }

// authorityMethods holds exactly the methods exported on the bus, so the
// FakeAuthority's own methods are not.
type authorityMethods struct {
	f *FakeAuthority
}

type subject struct {
	Kind    string
	Details map[string]dbus.Variant
}

type authorizationResult struct {
	IsAuthorized bool
	IsChallenge  bool
	Details      map[string]string
}

// CheckAuthorization implements the polkit method of the same name. It
// returns any so that Malformed can reply with the wrong type.
func (m authorityMethods) CheckAuthorization(sender dbus.Sender, subj subject, action string, details map[string]string, flags uint32, cancellationID string) (any, *dbus.Error) {
	f := m.f
	name, _ := subj.Details["name"].Value().(string)
	f.requests.add(Request{
		Sender:         string(sender),
		SubjectKind:    subj.Kind,
		SubjectName:    name,
		SubjectDetails: subj.Details,
		Action:         action,
		Details:        details,
		Flags:          flags,
		CancellationID: cancellationID,
	})

	switch f.answer(name, action) {
	case Yes:
		return authorizationResult{IsAuthorized: true, Details: map[string]string{}}, nil
	case Challenge:
		return authorizationResult{IsChallenge: true, Details: map[string]string{}}, nil
	case Dismissed:
		return authorizationResult{Details: map[string]string{"polkit.dismissed": "true"}}, nil
	case Fail:
		return nil, dbus.NewError(ErrorFailed, []any{"scripted failure of the fake authority"})
	case Malformed:
		return "not a (bba{ss})", nil
	case Never:
		return nil, f.waitForCancel(string(sender), cancellationID)
	default:
		return authorizationResult{Details: map[string]string{}}, nil
	}
}

func (f *FakeAuthority) waitForCancel(sender, id string) *dbus.Error {
	cancelled := make(chan struct{})
	key := pendingKey{sender, id}
	f.mu.Lock()
	if id != "" {
		f.pending[key] = cancelled
	}
	f.mu.Unlock()
	select {
	case <-cancelled:
		return dbus.NewError(ErrorCancelled, []any{"The authorization check was cancelled"})
	case <-f.stopped:
		f.mu.Lock()
		delete(f.pending, key)
		f.mu.Unlock()
		return dbus.NewError(ErrorFailed, []any{"the test ended before the check was cancelled"})
	}
}

// CancelCheckAuthorization implements the polkit method of the same name.
func (m authorityMethods) CancelCheckAuthorization(sender dbus.Sender, id string) *dbus.Error {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled.add(id)
	key := pendingKey{string(sender), id}
	ch, ok := f.pending[key]
	if !ok {
		return dbus.NewError(ErrorFailed, []any{"No pending authorization check with cancellation id " + id})
	}
	delete(f.pending, key)
	close(ch)
	return nil
}

// authorityIntrospection describes the part of polkit's Authority interface
// the fake implements.
const authorityIntrospection = `<node>
  <interface name="org.freedesktop.PolicyKit1.Authority">
    <method name="CheckAuthorization">
      <arg type="(sa{sv})" name="subject" direction="in"/>
      <arg type="s" name="action_id" direction="in"/>
      <arg type="a{ss}" name="details" direction="in"/>
      <arg type="u" name="flags" direction="in"/>
      <arg type="s" name="cancellation_id" direction="in"/>
      <arg type="(bba{ss})" name="result" direction="out"/>
    </method>
    <method name="CancelCheckAuthorization">
      <arg type="s" name="cancellation_id" direction="in"/>
    </method>
  </interface>` + introspect.IntrospectDataString + `</node>`
