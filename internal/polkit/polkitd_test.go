package polkit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

// These tests run the real polkitd (the host's, with the host's actions and
// rules) on a private bus. They are skipped where polkitd or root is missing.
// The subjects are connections of this test process: as root (bus.Conn) and
// as nobody (bus.ConnAs), neither in a logind session, so polkit applies each
// action's allow_any default.

// pkexec's action ships with polkitd itself: auth_admin for everyone.
const pkexec = "org.freedesktop.policykit.exec"

const nobodyUID = 65534

// polkit's implicit authorizations, as EnumerateActions reports them.
const (
	implicitNotAuthorized = 0
	implicitAuthorized    = 5
)

type actionDescription struct {
	ID, Description, Message, Vendor, VendorURL, Icon string
	Any, Inactive, Active                             uint32
	Annotations                                       map[string]string
}

// registeredAction returns the id of an action whose default for subjects
// outside a session is implicit, skipping the test where the host has none.
func registeredAction(t *testing.T, conn *dbus.Conn, implicit uint32) string {
	t.Helper()
	var actions []actionDescription
	err := conn.Object(bustest.AuthorityName, bustest.AuthorityPath).
		Call(bustest.AuthorityInterface+".EnumerateActions", 0, "C").Store(&actions)
	if err != nil {
		t.Fatalf("EnumerateActions: %v", err)
	}
	for _, a := range actions {
		if a.Any == implicit {
			return a.ID
		}
	}
	t.Skipf("no polkit action on this host has allow_any %d", implicit)
	return ""
}

func TestCheckAgainstRealPolkitd(t *testing.T) {
	bus := bustest.Start(t)
	bustest.StartPolkitd(t, bus)
	daemon := bus.Conn(t)
	auth := polkit.New(daemon, polkit.Options{})
	root := bus.Conn(t).Names()[0]
	nobody := bus.ConnAs(t, nobodyUID).Names()[0]
	gone := bus.Conn(t)
	goneName := gone.Names()[0]
	gone.Close()

	for _, tc := range []struct {
		name        string
		caller      string
		action      func(t *testing.T) string
		interactive bool
		want        polkit.Decision
		wantErr     error
	}{
		{
			name:   "root may do any registered action without a password",
			caller: root, action: fixed(pkexec), want: polkit.Allowed,
		},
		{
			name:   "an action polkit does not know is denied with polkit's error",
			caller: root, action: fixed("org.luminous.healing.no-such-action"), want: polkit.Denied, wantErr: errAny,
		},
		{
			name:   "nobody needs an admin password for pkexec and may not be asked, so it is a challenge",
			caller: nobody, action: fixed(pkexec), want: polkit.Challenge,
		},
		{
			name:   "nobody may be asked but no agent listens, so it is still a challenge",
			caller: nobody, action: fixed(pkexec), interactive: true, want: polkit.Challenge,
		},
		{
			name:   "nobody is refused an action whose default is no",
			caller: nobody, action: func(t *testing.T) string { return registeredAction(t, daemon, implicitNotAuthorized) }, want: polkit.Denied,
		},
		{
			name:   "nobody is allowed an action whose default is yes",
			caller: nobody, action: func(t *testing.T) string { return registeredAction(t, daemon, implicitAuthorized) }, want: polkit.Allowed,
		},
		{
			name:   "a caller that left the bus is denied",
			caller: goneName, action: fixed(pkexec), want: polkit.Denied, wantErr: polkit.ErrCallerGone,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action := tc.action(t)
			got, err := auth.Check(t.Context(), polkit.Request{
				Action: action, Caller: tc.caller, AllowInteraction: tc.interactive,
				Details: map[string]string{"unit": "nginx.service"},
			})
			if got != tc.want {
				t.Errorf("Check(%s) got %v; want %v", action, got, tc.want)
			}
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == errAny {
				var dbusErr dbus.Error
				if !errors.As(err, &dbusErr) {
					t.Errorf("got error %v; want it to wrap polkit's D-Bus error", err)
				}
			}
		})
	}
}

func fixed(action string) func(*testing.T) string {
	return func(*testing.T) string { return action }
}

func TestInteractiveCheckAgainstRealPolkitd(t *testing.T) {
	const patience = 500 * time.Millisecond
	for _, tc := range []struct {
		name          string
		agent         bustest.AgentAnswer
		interactive   bool
		want          polkit.Decision
		wantErr       error
		wantDismissed bool
		wantAsked     bool
		wantCancelled bool
	}{
		{
			name:  "nobody authenticates as an admin, so the call is allowed",
			agent: bustest.Authenticate, interactive: true, want: polkit.Allowed, wantAsked: true,
		},
		{
			name:  "nobody closes the dialog, so the call is denied as dismissed",
			agent: bustest.Dismiss, interactive: true, want: polkit.Denied, wantDismissed: true, wantAsked: true,
		},
		{
			name:  "nobody never answers, so the check times out and polkit closes the dialog",
			agent: bustest.Ignore, interactive: true, want: polkit.Denied, wantErr: polkit.ErrTimeout, wantAsked: true, wantCancelled: true,
		},
		{
			name:  "a call that did not allow interaction never reaches the agent",
			agent: bustest.Authenticate, interactive: false, want: polkit.Challenge,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := bustest.Start(t)
			bustest.StartPolkitd(t, bus)
			agent := bustest.NewFakeAgent(t, bus, tc.agent)
			cancels := make(chan string, 1)
			agent.NotifyCancel(cancels)
			auth := polkit.New(bus.Conn(t), polkit.Options{InteractiveTimeout: patience})
			nobody := bus.ConnAs(t, nobodyUID).Names()[0]

			res, err := auth.CheckResult(t.Context(), polkit.Request{
				Action: pkexec, Caller: nobody, AllowInteraction: tc.interactive,
			})

			if res.Decision != tc.want {
				t.Errorf("got %v; want %v", res.Decision, tc.want)
			}
			checkErr(t, err, tc.wantErr)
			if res.Dismissed() != tc.wantDismissed {
				t.Errorf("got Dismissed() = %v (details %v); want %v", res.Dismissed(), res.Details, tc.wantDismissed)
			}
			begun := agent.Begun()
			if asked := len(begun) == 1 && begun[0].Action == pkexec; asked != tc.wantAsked || len(begun) > 1 {
				t.Errorf("got agent requests %+v; want one for %s: %v", begun, pkexec, tc.wantAsked)
			}
			if !tc.wantCancelled || len(begun) == 0 {
				return
			}
			select {
			case cookie := <-cancels:
				if cookie != begun[0].Cookie {
					t.Errorf("got CancelAuthentication(%q); want %q", cookie, begun[0].Cookie)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("polkit did not cancel the authentication within 5s of CancelCheckAuthorization")
			}
		})
	}
}
