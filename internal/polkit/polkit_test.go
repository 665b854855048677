package polkit_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

const heal = "org.luminous.healing.heal"

// short deadlines keep the tests that wait for a timeout fast.
var short = polkit.Options{Timeout: 100 * time.Millisecond, InteractiveTimeout: 100 * time.Millisecond}

func TestCheckAgainstFakeAuthority(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	auth := polkit.New(bus.Conn(t), short)
	caller := bus.Conn(t).Names()[0]
	details := map[string]string{"unit": "nginx.service", "action": "restart", "issue": "unit:nginx.service"}

	for _, tc := range []struct {
		name          string
		answer        bustest.Answer
		interactive   bool
		want          polkit.Decision
		wantErr       error // nil: no error; errAny: some error
		wantDismissed bool
		wantCancel    bool
	}{
		{name: "polkit says yes, so the call is allowed", answer: bustest.Yes, want: polkit.Allowed},
		{name: "polkit says yes to an interactive check, so the call is allowed", answer: bustest.Yes, interactive: true, want: polkit.Allowed},
		{name: "polkit says no, so the call is denied without an error", answer: bustest.No, want: polkit.Denied},
		{name: "polkit would ask for a password, so the answer is a challenge", answer: bustest.Challenge, want: polkit.Challenge},
		{name: "the user dismissed the dialog, so the call is denied and the result says so", answer: bustest.Dismissed, interactive: true, want: polkit.Denied, wantDismissed: true},
		{name: "polkit fails, so the call is denied with its error", answer: bustest.Fail, want: polkit.Denied, wantErr: errAny},
		{name: "polkit's reply is malformed, so the call is denied", answer: bustest.Malformed, want: polkit.Denied, wantErr: polkit.ErrMalformedReply},
		{name: "polkit never answers, so the check is cancelled and denied", answer: bustest.Never, want: polkit.Denied, wantErr: polkit.ErrTimeout, wantCancel: true},
		{name: "polkit never answers an interactive check, so it is cancelled and denied", answer: bustest.Never, interactive: true, want: polkit.Denied, wantErr: polkit.ErrTimeout, wantCancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action := "org.luminous.test." + t.Name()
			fake.Answer(action, tc.answer)

			res, err := auth.CheckResult(t.Context(), polkit.Request{
				Action: action, Caller: caller, AllowInteraction: tc.interactive, Details: details,
			})

			if res.Decision != tc.want {
				t.Errorf("got decision %v; want %v", res.Decision, tc.want)
			}
			checkErr(t, err, tc.wantErr)
			if res.Dismissed() != tc.wantDismissed {
				t.Errorf("got Dismissed() = %v; want %v", res.Dismissed(), tc.wantDismissed)
			}
			if tc.answer == bustest.Fail {
				var dbusErr dbus.Error
				if !errors.As(err, &dbusErr) || dbusErr.Name != bustest.ErrorFailed {
					t.Errorf("got error %v; want it to wrap the D-Bus error %s", err, bustest.ErrorFailed)
				}
			}

			req := onlyRequest(t, fake, action)
			if req.SubjectKind != "system-bus-name" || req.SubjectName != caller {
				t.Errorf("got subject (%q, name %q); want (system-bus-name, name %q)", req.SubjectKind, req.SubjectName, caller)
			}
			if len(req.SubjectDetails) != 1 {
				t.Errorf("got subject details %v; want only the name", req.SubjectDetails)
			}
			wantFlags := uint32(0)
			if tc.interactive {
				wantFlags = polkit.AllowUserInteraction
			}
			if req.Flags != wantFlags {
				t.Errorf("got flags %#x; want %#x", req.Flags, wantFlags)
			}
			if !maps.Equal(req.Details, details) {
				t.Errorf("got details %v; want %v", req.Details, details)
			}
			if req.CancellationID == "" {
				t.Errorf("got an empty cancellation id; want one on every check")
			}
			if got := slices.Contains(fake.Cancelled(), req.CancellationID); got != tc.wantCancel {
				t.Errorf("got CancelCheckAuthorization(%q) observed = %v; want %v", req.CancellationID, got, tc.wantCancel)
			}
		})
	}
}

func TestCheckPassesNoDetailsAsAnEmptyDictionary(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	fake.Answer(heal, bustest.Yes)
	auth := polkit.New(bus.Conn(t), short)

	got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: bus.Conn(t).Names()[0]})
	if got != polkit.Allowed || err != nil {
		t.Fatalf("got %v, %v; want allowed, no error", got, err)
	}
	if req := onlyRequest(t, fake, heal); len(req.Details) != 0 {
		t.Errorf("got details %v; want none", req.Details)
	}
}

func TestCheckAsksAboutTheCallerNotTheDaemon(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	daemon := bus.Conn(t)
	admin, user := bus.Conn(t).Names()[0], bus.Conn(t).Names()[0]
	fake.AnswerFor(admin, heal, bustest.Yes)
	fake.AnswerFor(daemon.Names()[0], heal, bustest.Yes)
	auth := polkit.New(daemon, short)

	for _, tc := range []struct {
		name   string
		caller string
		want   polkit.Decision
	}{
		{"the admin polkit allows is allowed", admin, polkit.Allowed},
		{"another user is denied although the daemon itself would be allowed", user, polkit.Denied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: tc.caller})
			if got != tc.want || err != nil {
				t.Errorf("got %v, %v; want %v, no error", got, err, tc.want)
			}
		})
	}
}

func TestCheckUsesAUniqueCancellationIDPerCheck(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	conn := bus.Conn(t)
	caller := bus.Conn(t).Names()[0]
	// Two Authorities on one connection must not collide either.
	for _, auth := range []*polkit.Authority{polkit.New(conn, short), polkit.New(conn, short)} {
		for range 3 {
			if _, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: caller}); err != nil {
				t.Fatalf("Check: %v", err)
			}
		}
	}
	seen := map[string]bool{}
	for _, req := range fake.Requests() {
		if seen[req.CancellationID] {
			t.Errorf("got cancellation id %q twice; want each once", req.CancellationID)
		}
		seen[req.CancellationID] = true
	}
}

func TestCheckDeniesWhenPolkitIsNotOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	auth := polkit.New(bus.Conn(t), short)

	got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: bus.Conn(t).Names()[0]})
	if got != polkit.Denied {
		t.Errorf("got %v; want denied", got)
	}
	checkErr(t, err, polkit.ErrUnavailable)
}

func TestCheckDeniesWhenTheDaemonsConnectionIsClosed(t *testing.T) {
	bus := bustest.Start(t)
	bustest.NewFakeAuthority(t, bus).Answer(heal, bustest.Yes)
	conn := bus.Conn(t)
	auth := polkit.New(conn, short)
	conn.Close()

	got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: bus.Conn(t).Names()[0]})
	if got != polkit.Denied {
		t.Errorf("got %v; want denied", got)
	}
	checkErr(t, err, polkit.ErrUnavailable)
}

func TestCheckDeniesWhenTheCallerHasLeft(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	// Like polkit, which cannot look up a subject that is gone.
	fake.Answer(heal, bustest.Fail)
	auth := polkit.New(bus.Conn(t), short)
	callerConn := bus.Conn(t)
	caller := callerConn.Names()[0]
	callerConn.Close()

	got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: caller})
	if got != polkit.Denied {
		t.Errorf("got %v; want denied", got)
	}
	checkErr(t, err, polkit.ErrCallerGone)
}

func TestCheckDeniesWhenTheContextEnds(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	fake.Answer(heal, bustest.Never)
	// Long deadlines: only the context may end these checks.
	auth := polkit.New(bus.Conn(t), polkit.Options{Timeout: time.Minute, InteractiveTimeout: time.Minute})
	caller := bus.Conn(t).Names()[0]

	t.Run("a context cancelled before the check is denied without asking polkit", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := auth.Check(ctx, polkit.Request{Action: heal, Caller: caller})
		if got != polkit.Denied {
			t.Errorf("got %v; want denied", got)
		}
		checkErr(t, err, context.Canceled)
		if n := len(fake.Requests()); n != 0 {
			t.Errorf("got %d requests at polkit; want 0", n)
		}
		if ids := fake.Cancelled(); len(ids) != 0 {
			t.Errorf("got cancellations %q at polkit; want none", ids)
		}
	})

	t.Run("a context cancelled during the check is denied and the check cancelled", func(t *testing.T) {
		seen := make(chan bustest.Request, 1)
		fake.Notify(seen)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-seen
			cancel()
		}()
		got, err := auth.Check(ctx, polkit.Request{Action: heal, Caller: caller, AllowInteraction: true})
		if got != polkit.Denied {
			t.Errorf("got %v; want denied", got)
		}
		checkErr(t, err, context.Canceled)
		req := onlyRequest(t, fake, heal)
		if !slices.Contains(fake.Cancelled(), req.CancellationID) {
			t.Errorf("got cancellations %q; want %q among them", fake.Cancelled(), req.CancellationID)
		}
	})

	t.Run("a context deadline shorter than the check's ends it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		got, err := auth.Check(ctx, polkit.Request{Action: heal, Caller: caller})
		if got != polkit.Denied {
			t.Errorf("got %v; want denied", got)
		}
		checkErr(t, err, context.DeadlineExceeded)
		if errors.Is(err, polkit.ErrTimeout) {
			t.Errorf("got error %v; want it not to blame polkit's deadline", err)
		}
	})
}

func TestCheckGivesInteractiveChecksTheLongerDeadline(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	fake.Answer(heal, bustest.Never)
	const quick, patient = 50 * time.Millisecond, 800 * time.Millisecond
	auth := polkit.New(bus.Conn(t), polkit.Options{Timeout: quick, InteractiveTimeout: patient})
	caller := bus.Conn(t).Names()[0]

	for _, tc := range []struct {
		name        string
		interactive bool
		atLeast     time.Duration
		below       time.Duration
	}{
		{"a check without interaction gives up after the short deadline", false, quick, patient},
		{"a check that may prompt waits for the long deadline", true, patient, 10 * patient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, err := auth.Check(t.Context(), polkit.Request{Action: heal, Caller: caller, AllowInteraction: tc.interactive})
			took := time.Since(start)
			if got != polkit.Denied || !errors.Is(err, polkit.ErrTimeout) {
				t.Errorf("got %v, %v; want denied, %v", got, err, polkit.ErrTimeout)
			}
			if took < tc.atLeast || took >= tc.below {
				t.Errorf("got a check that took %v; want at least %v and below %v", took, tc.atLeast, tc.below)
			}
		})
	}
}

func TestCheckRejectsRequestsItCannotAsk(t *testing.T) {
	bus := bustest.Start(t)
	fake := bustest.NewFakeAuthority(t, bus)
	fake.AnswerFor("", "", bustest.Yes)
	conn := bus.Conn(t)
	auth := polkit.New(conn, short)

	for _, tc := range []struct {
		name string
		req  polkit.Request
	}{
		{"a request without an action", polkit.Request{Caller: conn.Names()[0]}},
		{"a request without a caller", polkit.Request{Action: heal}},
		{"a caller named by a well-known name", polkit.Request{Action: heal, Caller: "org.luminous.Healing"}},
		{"a caller named by a bare colon", polkit.Request{Action: heal, Caller: ":"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.Check(t.Context(), tc.req)
			if got != polkit.Denied {
				t.Errorf("got %v; want denied", got)
			}
			checkErr(t, err, polkit.ErrInvalidRequest)
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("got %d requests at polkit; want 0", n)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[polkit.Decision]string{
		polkit.Denied: "denied", polkit.Challenge: "challenge", polkit.Allowed: "allowed", polkit.Decision(7): "Decision(7)",
	} {
		if got := d.String(); got != want {
			t.Errorf("got %q; want %q", got, want)
		}
	}
	var zero polkit.Decision
	if zero != polkit.Denied {
		t.Errorf("got zero Decision %v; want denied", zero)
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

func checkErr(t *testing.T, got, want error) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("got error %v; want none", got)
	case want == errAny && got == nil:
		t.Errorf("got no error; want one")
	case want != nil && want != errAny && !errors.Is(got, want):
		t.Errorf("got error %v; want %v", got, want)
	}
}

// onlyRequest returns the one request the fake saw for action.
func onlyRequest(t *testing.T, fake *bustest.FakeAuthority, action string) bustest.Request {
	t.Helper()
	var found []bustest.Request
	for _, r := range fake.Requests() {
		if r.Action == action {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d requests for %s at polkit; want 1", len(found), action)
	}
	return found[0]
}
