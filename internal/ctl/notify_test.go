package ctl

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// notifyCall is one Notify call as a notification server receives it.
type notifyCall struct {
	app, icon, summary, body string
	replaces                 uint32
	actions                  []string
	hints                    map[string]dbus.Variant
	timeout                  int32
	id                       uint32 // what the server answered
}

// fakeNotifications is a notification server, as GNOME's or dunst's looks
// on the session bus.
type fakeNotifications struct {
	mu    sync.Mutex
	last  uint32
	calls chan notifyCall
	caps  []string // nil: body, body-markup and persistence
}

func (f *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.mu.Lock()
	id := replaces
	if id == 0 {
		f.last++
		id = f.last
	}
	f.mu.Unlock()
	f.calls <- notifyCall{app: app, replaces: replaces, icon: icon, summary: summary, body: body, actions: actions,
		hints: hints, timeout: timeout, id: id}
	return id, nil
}

func (f *fakeNotifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "fake", "luminous-healing tests", "1", "1.2", nil
}

func (f *fakeNotifications) GetCapabilities() ([]string, *dbus.Error) {
	if f.caps != nil {
		return f.caps, nil
	}
	return []string{"body", "body-markup", "persistence"}, nil
}

func (f *fakeNotifications) CloseNotification(uint32) *dbus.Error { return nil }

// startNotificationServer exports a fakeNotifications on its own session
// bus and points DBUS_SESSION_BUS_ADDRESS at it.
func startNotificationServer(t *testing.T) *fakeNotifications {
	t.Helper()
	bus := bustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)
	f := &fakeNotifications{calls: make(chan notifyCall, 64)}
	conn := bus.Conn(t)
	if err := conn.Export(f, notificationsPath, notificationsIface); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(notificationsName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v, %v", notificationsName, reply, err)
	}
	return f
}

// next waits for the Notify call whose summary contains want, skipping
// others.
func (f *fakeNotifications) next(t *testing.T, want string) notifyCall {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-f.calls:
			if strings.Contains(c.summary, want) {
				return c
			}
			t.Logf("skipping notification %q", c.summary)
		case <-timeout:
			t.Fatalf("no notification %q within 10s", want)
		}
	}
}

func urgency(c notifyCall) byte { u, _ := c.hints["urgency"].Value().(byte); return u }

// startWatch runs healingctl watch --notify until the test ends, and
// returns what it printed and its exit code once stopped.
func startWatch(t *testing.T) (stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runContext(ctx, []string{"healingctl", "watch", "--notify"}, &out, &errb) }()
	var once sync.Once
	var r result
	stop = func() result {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				r = result{code, out.String(), errb.String()}
			case <-time.After(10 * time.Second):
				t.Error("watch --notify did not stop within 10s of its context ending")
			}
		})
		return r
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestNotificationsFollowEachIssueInOneNotification(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	server := startNotificationServer(t)
	cl := d.Client(t, client.Options{})
	ctx := t.Context()

	// An issue already open when the notifier starts, as at login.
	if _, err := cl.InjectIssue(ctx, client.Injection{Kind: "memory", Value: 91, Threshold: 85}); err != nil {
		t.Fatal(err)
	}
	stop := startWatch(t)
	early := server.next(t, "memory")
	if early.summary != "Warning: memory (injected)" || urgency(early) != urgencyNormal || early.app != "luminous-healing" {
		t.Errorf("the issue open at start: got %q urgency %d from %q; want a normal Warning: memory (injected) from luminous-healing",
			early.summary, urgency(early), early.app)
	}

	if _, err := cl.InjectIssue(ctx, client.Injection{Kind: "unit", Subject: "web", Severity: "critical", Message: "web.service failed <exit-code>"}); err != nil {
		t.Fatal(err)
	}
	detected := server.next(t, "unit:web.service")
	if detected.summary != "Critical: unit:web.service (injected)" || urgency(detected) != urgencyCritical || detected.replaces != 0 {
		t.Errorf("IssueDetected: got %q urgency %d replacing %d; want a new critical notification", detected.summary, urgency(detected), detected.replaces)
	}
	if detected.body != "web.service failed &lt;exit-code&gt;\nAction: restart." {
		t.Errorf("IssueDetected body: got %q; want the message, escaped for a server that reads markup, and its action", detected.body)
	}
	// Healing is off: the daemon says next that the issue waits for a
	// person, and that notification replaces the first.
	watched := server.next(t, "unit:web.service")
	if watched.replaces != detected.id || watched.body != "web.service failed &lt;exit-code&gt;\nWatched, not healed automatically ('healingctl heal unit:web.service' acts now)." {
		t.Errorf("IssueChanged: got %q replacing %d; want the issue said to be watched, replacing %d", watched.body, watched.replaces, detected.id)
	}
	if watched.timeout != -1 || len(watched.actions) != 0 || watched.icon != "dialog-error" {
		t.Errorf("IssueChanged: timeout %d, actions %v, icon %q; want the server's timeout, no actions, dialog-error",
			watched.timeout, watched.actions, watched.icon)
	}

	if _, err := cl.Heal(ctx, "unit:web.service"); err != nil {
		t.Fatal(err)
	}
	resolved := server.next(t, "Resolved: unit:web.service")
	if resolved.replaces != detected.id {
		t.Errorf("IssueResolved replaces notification %d; want %d, the issue's own", resolved.replaces, detected.id)
	}
	if urgency(resolved) != urgencyLow || resolved.hints["transient"].Value() != true {
		t.Errorf("IssueResolved: urgency %d, hints %v; want low and transient", urgency(resolved), resolved.hints)
	}
	if !strings.Contains(resolved.body, "restart web.service: succeeded") {
		t.Errorf("IssueResolved body: got %q; want the action that resolved it", resolved.body)
	}

	d.Stop()
	gone := server.next(t, "luminous-healingd stopped")
	if urgency(gone) != urgencyNormal {
		t.Errorf("the daemon leaving: urgency %d; want normal", urgency(gone))
	}

	r := stop()
	if r.code != show.ExitOK {
		t.Errorf("watch --notify stopped with exit code %d; want 0\nstderr: %s", r.code, r.stderr)
	}
	for _, line := range []string{"IssueDetected    unit:web.service [critical, open] web.service failed <exit-code>", "IssueResolved    unit:web.service", "NameOwnerChanged luminous-healingd left the bus"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout lacks %q; it also prints what it notifies:\n%s", line, r.stdout)
		}
	}
}

func TestNotifyWithoutANotificationServerSaysSo(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	session := bustest.Start(t) // nobody owns org.freedesktop.Notifications
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", session.Address)
	r := healingctl("watch", "--notify")
	if r.code != show.ExitFailure || !strings.Contains(r.stderr, "no notification server runs on your session bus") {
		t.Errorf("got exit code %d, %q; want 1 and a message saying no notification server runs", r.code, r.stderr)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r = healingctl("watch", "--notify")
	if r.code != show.ExitFailure || !strings.Contains(r.stderr, "no session bus") {
		t.Errorf("without a session bus: got exit code %d, %q; want 1 and a message saying so", r.code, r.stderr)
	}
}

func TestEachSignalBecomesTheRightNotification(t *testing.T) {
	soon := time.Now().Add(3*time.Hour + 30*time.Second)
	restart := client.ActionResult{Action: "restart", Target: "web.service", Issue: "unit:web.service", Outcome: "succeeded"}
	cases := []struct {
		name    string
		ev      client.Event
		last    *client.ActionResult
		key     string
		summary string
		urgency byte
		body    string // a part of it
	}{
		{"a warning is normal", client.Event{Signal: client.SignalIssueDetected,
			Issue: &client.Issue{ID: "disk:/", Severity: "warning", State: "open", Action: "cleanup", Message: "/ is 93% full"}},
			nil, "disk:/", "Warning: disk:/", urgencyNormal, "/ is 93% full\nAction: cleanup."},
		{"the cause is told", client.Event{Signal: client.SignalIssueChanged,
			Issue: &client.Issue{ID: "load", Severity: "warning", State: "waiting", Action: "throttle", Message: "load 9.1", Cause: "the load is outside any service: 80% in user.slice"}},
			nil, "load", "Warning: load", urgencyNormal, "load 9.1\nCause: the load is outside any service: 80% in user.slice"},
		{"a watched issue says how to heal it", client.Event{Signal: client.SignalIssueChanged,
			Issue: &client.Issue{ID: "load", Severity: "warning", State: "watching", Action: "throttle"}},
			nil, "load", "Warning: load", urgencyNormal, "'healingctl heal load' acts now"},
		{"a watched issue no action applies to says so", client.Event{Signal: client.SignalIssueChanged,
			Issue: &client.Issue{ID: "pressure:io", Severity: "warning", State: "watching", Action: "none"}},
			nil, "pressure:io", "Warning: pressure:io", urgencyNormal, "no action applies"},
		{"a critical issue is critical", client.Event{Signal: client.SignalIssueChanged,
			Issue: &client.Issue{ID: "disk:/", Severity: "critical", State: "healing", Action: "cleanup"}},
			nil, "disk:/", "Critical: disk:/", urgencyCritical, "Cleanup: healing."},
		{"a dry-run plan says nothing was done", client.Event{Signal: client.SignalIssueChanged,
			Issue: &client.Issue{ID: "cpu", Severity: "warning", State: "planned", Action: "throttle"}},
			nil, "cpu", "Warning: cpu", urgencyNormal, "Dry-run: throttle planned"},
		{"resolved is low and tells the action", client.Event{Signal: client.SignalIssueResolved,
			Issue: &client.Issue{ID: "unit:web.service", Severity: "critical", State: "resolved"}},
			&restart, "unit:web.service", "Resolved: unit:web.service", urgencyLow, "restart web.service: succeeded"},
		{"a failure keeps the issue's urgency", client.Event{Signal: client.SignalHealingFailed,
			Failure: &client.Failure{ActionResult: client.ActionResult{Action: "restart", Target: "web.service", Issue: "unit:web.service",
				Outcome: "failed", Message: "job failed"}, State: "failed", Severity: "warning", Attempts: 1}},
			nil, "unit:web.service", "Healing failed: unit:web.service", urgencyNormal, "Attempt 1; it is retried"},
		{"giving up is critical and says how to re-arm", client.Event{Signal: client.SignalHealingFailed,
			Failure: &client.Failure{ActionResult: client.ActionResult{Action: "restart", Issue: "unit:web.service", Outcome: "failed"},
				State: "given-up", Severity: "warning", Attempts: 5}},
			nil, "unit:web.service", "Gave up healing: unit:web.service", urgencyCritical, "healingctl reset unit:web.service"},
		{"a forecast replaces nothing of an issue's but its own series'", client.Event{Signal: client.SignalPredictionAlert,
			Prediction: &client.Prediction{Series: "disk:/nix", Kind: "disk", Value: 71, Threshold: 90, TrendPerHour: 5, Confidence: 0.9, ETA: soon}},
			nil, "disk:/nix", "Predicted: disk:/nix reaches 90% in 3h00m", urgencyNormal, "Now 71.0%, trend +5.00/h, confidence 90%"},
		{"the daemon leaving", client.Event{Signal: client.SignalNameOwnerChanged},
			nil, "daemon", "luminous-healingd stopped", urgencyNormal, "Nothing is watched"},
		{"the daemon back", client.Event{Signal: client.SignalNameOwnerChanged, Owner: ":1.7"},
			nil, "daemon", "luminous-healingd is back", urgencyLow, "watched and healed again"},
		{"healing switched off", client.Event{Signal: "PropertiesChanged", Changed: map[string]dbus.Variant{client.PropHealingEnabled: dbus.MakeVariant(false)}},
			nil, "setting:healing", "Automatic healing is off", urgencyNormal, "healingctl set healing on"},
		{"dry-run switched on", client.Event{Signal: "PropertiesChanged", Changed: map[string]dbus.Variant{client.PropDryRun: dbus.MakeVariant(true)}},
			nil, "setting:dry-run", "Dry-run is on", urgencyLow, "none is executed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ok := notificationFor(c.ev, c.last)
			if !ok {
				t.Fatal("got no notification")
			}
			if n.key != c.key || n.summary != c.summary || n.urgency != c.urgency || !strings.Contains(n.body, c.body) {
				t.Errorf("got key %q, %q, urgency %d, body %q; want %q, %q, %d, a body with %q",
					n.key, n.summary, n.urgency, n.body, c.key, c.summary, c.urgency, c.body)
			}
		})
	}
	for _, quiet := range []client.Event{
		{Signal: "PropertiesChanged", Changed: map[string]dbus.Variant{client.PropLastCheck: dbus.MakeVariant(uint64(1))}},
		{Signal: client.SignalActionCompleted, Result: &restart},
	} {
		if n, ok := notificationFor(quiet, nil); ok {
			t.Errorf("%s: got %+v; want no notification", quiet.Signal, n)
		}
	}
}

// The NixOS module's notifier unit runs healingctl with flags that must
// exist: a renamed flag would fail every graphical login.
func TestTheNixOSNotifierUnitRunsACommandHealingctlKnows(t *testing.T) {
	nix, err := os.ReadFile("../../nixos/modules/luminous-healing.nix")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`luminous-healing-notifier[\s\S]*?ExecStart = "\$\{package\}/bin/healingctl ([^"]+)"`).FindSubmatch(nix)
	if m == nil {
		t.Fatal("found no ExecStart running healingctl in the notifier unit")
	}
	args := strings.Fields(string(m[1]))
	if !slices.Equal(args, []string{"watch", "--notify"}) {
		t.Errorf("the notifier unit runs healingctl %v; want watch --notify (update this test and docs/healingctl.md if that changed)", args)
	}
	cmd := newApp(io.Discard, io.Discard).Command(args[0])
	if cmd == nil {
		t.Fatalf("healingctl has no command %q", args[0])
	}
	for _, a := range args[1:] {
		found := false
		for _, f := range cmd.Flags {
			found = found || slices.Contains(f.Names(), strings.TrimLeft(a, "-"))
		}
		if !found {
			t.Errorf("healingctl %s has no flag %s", args[0], a)
		}
	}
}

func TestSilencedIssuesNotifyOnlyWhenTheSilenceSaysSo(t *testing.T) {
	paused := client.Issue{ID: "unit:web.service", Severity: "critical", State: "silenced", Action: "restart", Message: "web.service failed (signal)",
		Silenced: "silence-1", SilenceEffect: "pause"}
	for _, sig := range []string{client.SignalIssueDetected, client.SignalIssueChanged, client.SignalIssueResolved} {
		if n, ok := notificationFor(client.Event{Signal: sig, Issue: &paused}, nil); ok {
			t.Errorf("%s of an issue under a pausing silence notified: %+v", sig, n)
		}
	}
	notify := paused
	notify.SilenceEffect = "notify-only"
	n, ok := notificationFor(client.Event{Signal: client.SignalIssueDetected, Issue: &notify}, nil)
	want := "web.service failed (signal)\nSilenced by silence-1: not healed automatically until it ends ('healingctl heal unit:web.service' acts now)."
	if !ok || n.body != want {
		t.Errorf("notify-only: got %q, %v; want %q", n.body, ok, want)
	}
}
