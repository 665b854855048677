package bustest_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
)

func TestStartGivesConnectionsThatCanOwnAnyName(t *testing.T) {
	bus := bustest.Start(t)
	a, b := bus.Conn(t), bus.Conn(t)
	if a.Names()[0] == b.Names()[0] {
		t.Fatalf("got the same unique name %s for two connections; want two", a.Names()[0])
	}
	for _, name := range []string{"org.luminous.Healing", bustest.AuthorityName} {
		reply, err := a.RequestName(name, dbus.NameFlagDoNotQueue)
		if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Errorf("RequestName(%s) = %v, %v; want primary owner", name, reply, err)
		}
	}
}

func TestWithConfigAddsPolicy(t *testing.T) {
	bus := bustest.Start(t, bustest.WithConfig(`<policy context="mandatory"><deny own="org.luminous.Forbidden"/></policy>`))
	conn := bus.Conn(t)
	_, err := conn.RequestName("org.luminous.Forbidden", dbus.NameFlagDoNotQueue)
	var dbusErr dbus.Error
	if !errors.As(err, &dbusErr) || dbusErr.Name != "org.freedesktop.DBus.Error.AccessDenied" {
		t.Errorf("RequestName of a denied name: got error %v; want AccessDenied", err)
	}
}

func TestConnAsIsSeenByTheBusAsThatUser(t *testing.T) {
	bus := bustest.Start(t)
	observer := bus.Conn(t)
	for _, tc := range []struct {
		name string
		uid  int
	}{
		{"root connects as root", 0},
		{"nobody connects as nobody", 65534},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := bus.ConnAs(t, tc.uid)
			var got uint32
			err := observer.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, conn.Names()[0]).Store(&got)
			if err != nil {
				t.Fatalf("GetConnectionUnixUser: %v", err)
			}
			if int(got) != tc.uid {
				t.Errorf("got uid %d; want %d", got, tc.uid)
			}
		})
	}
	if os.Geteuid() != 0 {
		return
	}
	if uid := os.Getuid(); uid != 0 {
		t.Errorf("after ConnAs the test process runs as uid %d; want 0", uid)
	}
}

// check sends a CheckAuthorization to the fake like the daemon would and
// waits for the answer.
func check(ctx context.Context, conn *dbus.Conn, subjectName, action string, flags uint32, id string) *dbus.Call {
	call := startCheck(ctx, conn, subjectName, action, flags, id)
	<-call.Done
	return call
}

// startCheck sends a CheckAuthorization without waiting for the answer.
func startCheck(ctx context.Context, conn *dbus.Conn, subjectName, action string, flags uint32, id string) *dbus.Call {
	subject := struct {
		Kind    string
		Details map[string]dbus.Variant
	}{"system-bus-name", map[string]dbus.Variant{"name": dbus.MakeVariant(subjectName)}}
	return conn.Object(bustest.AuthorityName, bustest.AuthorityPath).GoWithContext(ctx,
		bustest.AuthorityInterface+".CheckAuthorization", 0, make(chan *dbus.Call, 1),
		subject, action, map[string]string{"unit": "nginx.service"}, flags, id)
}

type result struct {
	IsAuthorized, IsChallenge bool
	Details                   map[string]string
}

func TestFakeAuthorityAnswersAsScripted(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	daemon := bus.Conn(t)
	alice, bob := bus.Conn(t).Names()[0], bus.Conn(t).Names()[0]
	fake.Answer("heal", bustest.Yes)
	fake.Answer("develop", bustest.Challenge)
	fake.Answer("broken", bustest.Fail)
	fake.Answer("garbled", bustest.Malformed)
	fake.Answer("closed", bustest.Dismissed)
	fake.AnswerFor(bob, "heal", bustest.No)
	fake.AnswerFor(bob, "", bustest.Yes)

	for _, tc := range []struct {
		name      string
		subject   string
		action    string
		want      result
		wantError string
	}{
		{name: "a scripted yes authorizes", subject: alice, action: "heal", want: result{IsAuthorized: true}},
		{name: "a scripted challenge challenges", subject: alice, action: "develop", want: result{IsChallenge: true}},
		{name: "an unscripted action is refused", subject: alice, action: "other", want: result{}},
		{name: "a dismissed dialog says so in the details", subject: alice, action: "closed", want: result{Details: map[string]string{"polkit.dismissed": "true"}}},
		{name: "a scripted failure is a D-Bus error", subject: alice, action: "broken", wantError: bustest.ErrorFailed},
		{name: "an answer for subject and action beats one for the action", subject: bob, action: "heal", want: result{}},
		{name: "an answer for the subject beats one for the action", subject: bob, action: "develop", want: result{IsAuthorized: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call := check(t.Context(), daemon, tc.subject, tc.action, 0, "id-"+tc.action)
			if tc.wantError != "" {
				var dbusErr dbus.Error
				if !errors.As(call.Err, &dbusErr) || dbusErr.Name != tc.wantError {
					t.Fatalf("got error %v; want %s", call.Err, tc.wantError)
				}
				return
			}
			var got result
			if err := call.Store(&got); err != nil {
				t.Fatalf("reading reply: %v", err)
			}
			if got.IsAuthorized != tc.want.IsAuthorized || got.IsChallenge != tc.want.IsChallenge || got.Details["polkit.dismissed"] != tc.want.Details["polkit.dismissed"] {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}

	t.Run("a malformed answer is not a (bba{ss})", func(t *testing.T) {
		var got result
		if err := check(t.Context(), daemon, alice, "garbled", 0, "id").Store(&got); err == nil {
			t.Errorf("got reply %+v; want an error decoding it", got)
		}
	})
}

func TestFakeAuthorityRecordsRequests(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	daemon := bus.Conn(t)
	caller := bus.Conn(t).Names()[0]
	if err := check(t.Context(), daemon, caller, "heal", 1, "the-id").Err; err != nil {
		t.Fatalf("CheckAuthorization: %v", err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests; want 1", len(reqs))
	}
	got := reqs[0]
	want := bustest.Request{
		Sender: daemon.Names()[0], SubjectKind: "system-bus-name", SubjectName: caller,
		Action: "heal", Details: map[string]string{"unit": "nginx.service"}, Flags: 1, CancellationID: "the-id",
	}
	if got.Sender != want.Sender || got.SubjectKind != want.SubjectKind || got.SubjectName != want.SubjectName ||
		got.Action != want.Action || got.Details["unit"] != want.Details["unit"] || len(got.Details) != 1 ||
		got.Flags != want.Flags || got.CancellationID != want.CancellationID {
		t.Errorf("got request %+v; want %+v", got, want)
	}
}

func TestFakeAuthorityNeverAnswersUntilCancelled(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	fake.Answer("slow", bustest.Never)
	daemon, other := bus.Conn(t), bus.Conn(t)
	seen := make(chan bustest.Request, 1)
	fake.Notify(seen)

	call := startCheck(t.Context(), daemon, other.Names()[0], "slow", 0, "c1")
	select {
	case <-call.Done:
		t.Fatalf("got an answer (%v) before cancelling; want none", call.Err)
	case <-seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the fake did not see the request within 5s")
	}

	cancelMethod := bustest.AuthorityInterface + ".CancelCheckAuthorization"
	// Cancellation ids belong to the connection that made the check.
	if err := other.Object(bustest.AuthorityName, bustest.AuthorityPath).Call(cancelMethod, 0, "c1").Err; err == nil {
		t.Errorf("cancelling another connection's check: got no error; want one")
	}
	if err := daemon.Object(bustest.AuthorityName, bustest.AuthorityPath).Call(cancelMethod, 0, "c1").Err; err != nil {
		t.Fatalf("CancelCheckAuthorization: %v", err)
	}
	select {
	case <-call.Done:
	case <-time.After(5 * time.Second):
		t.Fatal("the check was not answered within 5s of being cancelled")
	}
	var dbusErr dbus.Error
	if !errors.As(call.Err, &dbusErr) || dbusErr.Name != bustest.ErrorCancelled {
		t.Errorf("got %v; want %s", call.Err, bustest.ErrorCancelled)
	}
	if got, want := fake.Cancelled(), []string{"c1", "c1"}; !slices.Equal(got, want) {
		t.Errorf("got cancellations %q; want %q", got, want)
	}
}

func TestStartPolkitdOwnsTheAuthorityName(t *testing.T) {
	bus := bustest.Start(t)
	bustest.StartPolkitd(t, bus)
	var owner string
	err := bus.Conn(t).BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, bustest.AuthorityName).Store(&owner)
	if err != nil || owner == "" {
		t.Fatalf("GetNameOwner(%s) = %q, %v; want an owner", bustest.AuthorityName, owner, err)
	}
}
