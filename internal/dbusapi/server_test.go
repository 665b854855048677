package dbusapi_test

import (
	"context"
	"encoding/xml"
	"errors"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
)

func TestTheExportedInterfaceIsTheXML(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	var data string
	err := d.Bus.Conn(t).Object(client.BusName, client.ObjectPath).Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&data)
	if err != nil {
		t.Fatal(err)
	}
	var live introspect.Node
	if err := xml.Unmarshal([]byte(data), &live); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("../../dbus/org.luminous.Healing1.xml")
	if err != nil {
		t.Fatal(err)
	}
	var shipped introspect.Node
	if err := xml.Unmarshal(file, &shipped); err != nil {
		t.Fatal(err)
	}
	find := func(n introspect.Node, name string) *introspect.Interface {
		for i := range n.Interfaces {
			if n.Interfaces[i].Name == name {
				return &n.Interfaces[i]
			}
		}
		return nil
	}
	for _, name := range []string{"org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Peer"} {
		if find(live, name) == nil {
			t.Errorf("Introspect does not list %s", name)
		}
	}
	got, want := find(live, client.Interface), find(shipped, client.Interface)
	if got == nil || want == nil {
		t.Fatalf("interface missing: live %v, shipped %v", got != nil, want != nil)
	}
	// Introspection over the wire and the file must agree on every name,
	// type, direction and annotation.
	norm := func(i *introspect.Interface) string {
		var b strings.Builder
		for _, m := range i.Methods {
			b.WriteString("method " + m.Name)
			for _, a := range m.Args {
				b.WriteString(" " + a.Direction + ":" + a.Name + ":" + a.Type)
			}
			b.WriteString("\n")
		}
		for _, s := range i.Signals {
			b.WriteString("signal " + s.Name)
			for _, a := range s.Args {
				b.WriteString(" " + a.Name + ":" + a.Type)
			}
			b.WriteString("\n")
		}
		for _, p := range i.Properties {
			b.WriteString("property " + p.Name + " " + p.Type + " " + p.Access)
			for _, a := range p.Annotations {
				b.WriteString(" " + a.Name + "=" + a.Value)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	if g, w := norm(got), norm(want); g != w {
		t.Errorf("Introspect and %s differ:\n--- live\n%s--- file\n%s", "dbus/org.luminous.Healing1.xml", g, w)
	}
	// busctl tree walks from /.
	var root string
	if err := d.Bus.Conn(t).Object(client.BusName, "/org/luminous").Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&root); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(root, `<node name="Healing">`) {
		t.Errorf("/org/luminous does not list Healing as a child:\n%s", root)
	}
}

func TestReadsAreOpenToEveryoneWithoutPolkit(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	c := d.Client(t, client.Options{})
	ctx := t.Context()

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "test" || st.Health != "ok" || st.Mode != "system" || !st.HealingEnabled || st.DryRun ||
		!slices.Equal(st.MonitoredUnits, []string{"web.service"}) || !st.Systemd || st.Interval != time.Hour {
		t.Errorf("GetStatus: got %+v", st)
	}
	if len(st.Units) != 1 || st.Units[0].Name != "web.service" {
		t.Errorf("GetStatus units: got %+v; want web.service", st.Units)
	}
	if _, err := c.Issues(ctx); err != nil {
		t.Errorf("ListIssues: %v", err)
	}
	if _, err := c.Predictions(ctx); err != nil {
		t.Errorf("GetPredictions: %v", err)
	}
	h, err := c.History(ctx, 5)
	if err != nil {
		t.Errorf("GetHistory: %v", err)
	}
	if len(h) == 0 || h[len(h)-1].Event != "daemon-started" {
		t.Errorf("GetHistory(5): got %+v; want the daemon-started record last", h)
	}
	obj := c.Conn().Object(client.BusName, client.ObjectPath)
	var all map[string]dbus.Variant
	if err := obj.Call("org.freedesktop.DBus.Properties.GetAll", 0, client.Interface).Store(&all); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Version": "s", "Health": "s", "DryRun": "b", "HealingEnabled": "b", "ActiveIssues": "u", "LastCheck": "t", "MonitoredUnits": "as", "ActiveSilences": "u"}
	if len(all) != len(want) {
		t.Errorf("GetAll: got %d properties; want %d", len(all), len(want))
	}
	for name, sig := range want {
		if all[name].Signature().String() != sig {
			t.Errorf("property %s: type %s; want %s", name, all[name].Signature(), sig)
		}
	}
	var v dbus.Variant
	if err := obj.Call("org.freedesktop.DBus.Properties.Get", 0, client.Interface, "Health").Store(&v); err != nil || v.Value() != "ok" {
		t.Errorf("Get Health: got %v, %v; want ok", v, err)
	}
	if n := len(d.Authority.Requests()); n != 0 {
		t.Errorf("reads asked polkit %d times; want never", n)
	}
}

// GetStatus is the small summary; each list healingctl status shows is a
// method of its own, carrying what the engine holds.
func TestTheListsAreMethodsOfTheirOwn(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	ctx := t.Context()
	// An automatic restart that fails leaves a breaker (a person's call
	// would not: it bypasses the breaker).
	d.Systemd.SetJobResult("web.service", "failed") // before any restart
	if _, err := d.Engine.InjectIssue(ctx, engine.Caller{Name: "test"}, engine.Injection{Kind: issue.Unit, Subject: "web.service", Severity: issue.Critical}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Engine.Throttle(ctx, engine.Caller{Name: "test"}, "other.service"); err != nil {
		t.Fatal(err)
	}
	settled := func() bool {
		st := d.Engine.Status()
		return len(st.Breakers) == 1 && len(st.Units) == 1 && st.Units[0].ActiveState == "failed"
	}
	for deadline := time.Now().Add(5 * time.Second); !settled(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("5s after a failed automatic restart: %+v; want a breaker and web.service failed", d.Engine.Status())
		}
	}

	obj := d.Bus.Conn(t).Object(client.BusName, client.ObjectPath)
	var sum map[string]dbus.Variant
	if err := obj.Call(client.MethodGetStatus, 0).Store(&sum); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(sum))
	want := slices.Sorted(maps.Keys(client.Encode(client.Summary{})))
	if !slices.Equal(keys, want) {
		t.Errorf("GetStatus keys %v; want the summary's %v and no lists", keys, want)
	}

	st, err := d.Client(t, client.Options{}).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(st.Resources, func(r client.Resource) bool {
		return r.ID == "memory" && r.Value == 42 && r.Threshold > 0 && r.Severity == "ok"
	}) {
		t.Errorf("ListResources: %+v; want memory at 42%% against its threshold", st.Resources)
	}
	if len(st.Units) != 1 || st.Units[0].Name != "web.service" || st.Units[0].ActiveState != "failed" {
		t.Errorf("ListUnits: %+v; want web.service, failed", st.Units)
	}
	if len(st.Issues) != 1 || st.Issues[0].ID != "unit:web.service" {
		t.Errorf("ListIssues: %+v; want unit:web.service", st.Issues)
	}
	if len(st.Breakers) != 1 || st.Breakers[0].Issue != "unit:web.service" || st.Breakers[0].Failures != 1 {
		t.Errorf("ListBreakers: %+v; want unit:web.service with one failure", st.Breakers)
	}
	if len(st.Throttles) != 1 || st.Throttles[0].Unit != "other.service" {
		t.Errorf("ListThrottles: %+v; want other.service", st.Throttles)
	}
	if st.ActiveIssues != 1 || st.Health != "critical" {
		t.Errorf("summary: %d issues, health %s; want 1, critical", st.ActiveIssues, st.Health)
	}
}

// The bound on privileged calls counts actions, not prompts: a check
// polkit never answers holds no slot, while a slow action does.
func TestAnUnansweredPromptHoldsNoSlot(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	d := apitest.Start(t, apitest.Setup{Server: func(o *dbusapi.Options) {
		o.MaxPrivileged, o.BusyWait = 1, 100*time.Millisecond
	}})
	d.Systemd.SetOnRestart(func(string) { entered <- struct{}{}; <-release }) // before any restart
	d.Authority.Answer(client.ActionDevelop, bustest.Never)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	ctx := t.Context()

	waiting := make(chan error, 1)
	go func() { waiting <- d.Client(t, client.Options{}).Reload(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); len(d.Authority.Requests()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Reload never reached polkit")
		}
	}
	if _, err := d.Client(t, client.Options{}).Cleanup(ctx); err != nil {
		t.Errorf("Cleanup while another caller's check waits on polkit: %v; want it to run", err)
	}
	if err := <-waiting; !errors.Is(err, client.ErrAccessDenied) {
		t.Errorf("the unanswered Reload: %v; want AccessDenied once its check timed out", err)
	}

	// A slow action does hold the one slot.
	slow := make(chan error, 1)
	go func() { _, err := d.Client(t, client.Options{}).RestartUnit(ctx, "web"); slow <- err }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the restart never reached systemd")
	}
	_, err := d.Client(t, client.Options{}).Cleanup(ctx)
	close(release)
	if !errors.Is(err, client.ErrRateLimited) {
		t.Errorf("Cleanup while a restart holds the only slot: %v; want RateLimited", err)
	}
	if err := <-slow; err != nil {
		t.Errorf("the slow restart: %v", err)
	}
}

func TestPropertiesAreReadOnly(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	obj := d.Bus.Conn(t).Object(client.BusName, client.ObjectPath)
	err := obj.Call("org.freedesktop.DBus.Properties.Set", 0, client.Interface, "DryRun", dbus.MakeVariant(true)).Err
	if name := errName(err); name != "org.freedesktop.DBus.Error.PropertyReadOnly" {
		t.Errorf("Set DryRun: got %v; want PropertyReadOnly", err)
	}
	if d.Engine.Status().DryRun {
		t.Error("Set changed DryRun")
	}
	err = obj.Call("org.freedesktop.DBus.Properties.Get", 0, client.Interface, "NoSuch").Err
	if name := errName(err); name != "org.freedesktop.DBus.Error.UnknownProperty" {
		t.Errorf("Get NoSuch: got %v; want UnknownProperty", err)
	}
}

func errName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Name
	}
	return ""
}

// privilegedCall is one privileged method call and what polkit must be
// asked for it.
type privilegedCall struct {
	name    string
	call    func(context.Context, *client.Client) error
	action  string
	details map[string]string
	// done reports whether the call had its effect.
	done func(*apitest.Daemon) bool
	// prepare gives the call something to work on.
	prepare func(*testing.T, *apitest.Daemon)
}

func privilegedCalls() []privilegedCall {
	return []privilegedCall{
		{"Heal", func(ctx context.Context, c *client.Client) error {
			_, err := c.Heal(ctx, "unit:web.service")
			return err
		},
			client.ActionHeal, map[string]string{"action": "restart", "unit": "web.service", "issue": "unit:web.service"},
			func(d *apitest.Daemon) bool { return slices.Contains(d.Mutations(), "RestartUnit web.service fail") }, openUnitIssue},
		{"RestartUnit on a monitored unit", func(ctx context.Context, c *client.Client) error { _, err := c.RestartUnit(ctx, "web"); return err },
			client.ActionHeal, map[string]string{"action": "restart", "unit": "web.service"},
			func(d *apitest.Daemon) bool { return slices.Contains(d.Mutations(), "RestartUnit web.service fail") }, nil},
		{"RestartUnit on another unit", func(ctx context.Context, c *client.Client) error {
			_, err := c.RestartUnit(ctx, "other.service")
			return err
		},
			client.ActionDevelop, map[string]string{"action": "restart", "unit": "other.service"},
			func(d *apitest.Daemon) bool {
				return slices.Contains(d.Mutations(), "RestartUnit other.service fail")
			}, nil},
		{"Cleanup", func(ctx context.Context, c *client.Client) error { _, err := c.Cleanup(ctx); return err },
			client.ActionHeal, map[string]string{"action": "cleanup"},
			func(d *apitest.Daemon) bool {
				return slices.Contains(d.Mutations(), "StartUnit systemd-tmpfiles-clean.service fail")
			}, nil},
		{"Throttle", func(ctx context.Context, c *client.Client) error { _, err := c.Throttle(ctx, "other"); return err },
			client.ActionHeal, map[string]string{"action": "throttle", "unit": "other.service"},
			func(d *apitest.Daemon) bool { return len(d.Engine.Status().Throttles) == 1 }, nil},
		{"Release", func(ctx context.Context, c *client.Client) error { _, err := c.Release(ctx, "other"); return err },
			client.ActionHeal, map[string]string{"action": "release", "unit": "other.service"},
			func(d *apitest.Daemon) bool {
				return slices.ContainsFunc(d.Events(audit.ActionSucceeded), isAction("release"))
			},
			func(t *testing.T, d *apitest.Daemon) {
				if _, err := d.Engine.Throttle(t.Context(), engine.Caller{Name: "test"}, "other.service"); err != nil {
					t.Fatal(err)
				}
			}},
		{"ResetBreaker", func(ctx context.Context, c *client.Client) error { return c.ResetBreaker(ctx, "unit:web.service") },
			client.ActionHeal, map[string]string{"action": "reset", "unit": "web.service", "issue": "unit:web.service"},
			func(d *apitest.Daemon) bool { return len(d.Events(audit.BreakerReset)) == 1 }, openUnitIssue},
		{"AddSilence", func(ctx context.Context, c *client.Client) error {
			_, err := c.AddSilence(ctx, client.SilenceRequest{Scope: "unit:web", Reason: "upgrading", For: time.Hour})
			return err
		},
			client.ActionHeal, map[string]string{"action": "silence", "unit": "web.service", "scope": "unit:web.service"},
			func(d *apitest.Daemon) bool { return d.Engine.Status().ActiveSilences == 1 }, nil},
		{"RemoveSilence", func(ctx context.Context, c *client.Client) error { return c.RemoveSilence(ctx, "silence-1") },
			client.ActionHeal, map[string]string{"action": "unsilence", "scope": "kind:disk"},
			func(d *apitest.Daemon) bool { return d.Engine.Status().ActiveSilences == 0 }, addSilence},
		{"SetDryRun", func(ctx context.Context, c *client.Client) error { return c.SetDryRun(ctx, true) },
			client.ActionDevelop, map[string]string{"action": "set-dry-run"},
			func(d *apitest.Daemon) bool { return d.Engine.Status().DryRun }, nil},
		{"SetHealingEnabled", func(ctx context.Context, c *client.Client) error { return c.SetHealingEnabled(ctx, false) },
			client.ActionDevelop, map[string]string{"action": "set-healing"},
			func(d *apitest.Daemon) bool { return !d.Engine.Status().HealingEnabled }, nil},
		{"SetThreshold", func(ctx context.Context, c *client.Client) error { return c.SetThreshold(ctx, "memory", 30) },
			client.ActionDevelop, map[string]string{"action": "set-threshold"},
			func(d *apitest.Daemon) bool { return d.Engine.Status().Resources[0].Threshold == 30 }, nil},
		{"Reload", func(ctx context.Context, c *client.Client) error { return c.Reload(ctx) },
			client.ActionDevelop, map[string]string{"action": "reload"},
			func(d *apitest.Daemon) bool {
				return slices.ContainsFunc(d.Events(audit.SettingChanged), isAction("configuration"))
			}, nil},
		{"InjectIssue", func(ctx context.Context, c *client.Client) error {
			_, err := c.InjectIssue(ctx, client.Injection{Kind: "disk", Subject: "/srv", Value: 97, Threshold: 90})
			return err
		},
			client.ActionDevelop, map[string]string{"action": "inject", "issue": "disk:/srv"},
			func(d *apitest.Daemon) bool { return len(d.Events(audit.IssueDetected)) == 1 }, nil},
	}
}

func isAction(a string) func(audit.Entry) bool {
	return func(e audit.Entry) bool { return e.Action == a }
}

// addSilence adds a silence on disks for RemoveSilence to remove; its id
// is made predictable.
func addSilence(t *testing.T, d *apitest.Daemon) {
	t.Helper()
	if _, err := d.Engine.AddSilence(engine.Caller{Name: "test"}, engine.SilenceRequest{Scope: "kind:disk", Reason: "resizing", For: time.Hour, ID: "silence-1"}); err != nil {
		t.Fatal(err)
	}
}

// openUnitIssue opens a synthetic issue for web.service, with automatic
// healing off so only the call under test acts on it, for Heal and
// ResetBreaker to work on.
func openUnitIssue(t *testing.T, d *apitest.Daemon) {
	t.Helper()
	if _, err := d.Engine.SetHealingEnabled(engine.Caller{Name: "test"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Engine.InjectIssue(t.Context(), engine.Caller{Name: "test"}, engine.Injection{Kind: issue.Unit, Subject: "web.service", Severity: issue.Critical}); err != nil {
		t.Fatal(err)
	}
}

func TestPrivilegedCallsAskPolkitWithTheDaemonsDetailsAndActOnYes(t *testing.T) {
	for _, pc := range privilegedCalls() {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			d := apitest.Start(t, apitest.Setup{})
			if pc.prepare != nil {
				pc.prepare(t, d)
				d.MarkMutations()
			}
			d.Authority.Answer(pc.action, bustest.Yes)
			c := d.Client(t, client.Options{})
			if err := pc.call(t.Context(), c); err != nil {
				t.Fatalf("got %v; want success", err)
			}
			reqs := d.Authority.Requests()
			if len(reqs) != 1 {
				t.Fatalf("polkit was asked %d times; want once", len(reqs))
			}
			r := reqs[0]
			if r.Action != pc.action || !reflect.DeepEqual(r.Details, pc.details) || r.SubjectKind != "system-bus-name" ||
				r.SubjectName != c.Conn().Names()[0] || r.Flags != 0 {
				t.Errorf("polkit was asked %+v; want action %s, details %v, subject system-bus-name %s, no interaction",
					r, pc.action, pc.details, c.Conn().Names()[0])
			}
			waitFor(t, "the call's effect", func() bool { return pc.done(d) })
			allowed := d.Events(audit.CallAllowed)
			if len(allowed) != 1 || allowed[0].CallerUID != int64(os.Getuid()) || allowed[0].Caller != c.Conn().Names()[0] {
				t.Errorf("audit: got %+v; want one call-allowed record with the caller's uid and name", allowed)
			}
		})
	}
}

// Every answer but yes executes nothing, and each gives its own error.
func TestPolkitAnswersOtherThanYesExecuteNothing(t *testing.T) {
	answers := []struct {
		name    string
		answer  bustest.Answer
		wantErr string
		outcome string
	}{
		{"no", bustest.No, client.ErrorAccessDenied, "denied"},
		{"challenge", bustest.Challenge, client.ErrorInteractiveAuthorizationRequired, "challenge"},
		{"dismissed", bustest.Dismissed, client.ErrorAccessDenied, "denied"},
		{"an error", bustest.Fail, client.ErrorAccessDenied, "denied"},
		{"garbage", bustest.Malformed, client.ErrorAccessDenied, "denied"},
		{"never", bustest.Never, client.ErrorAccessDenied, "denied"},
	}
	for _, a := range answers {
		for _, pc := range privilegedCalls() {
			t.Run("polkit answers "+a.name+" to "+pc.name, func(t *testing.T) {
				t.Parallel()
				d := apitest.Start(t, apitest.Setup{})
				if pc.prepare != nil {
					pc.prepare(t, d)
					d.MarkMutations()
				}
				d.Authority.Answer(pc.action, a.answer)
				before := d.Engine.Status()
				err := pc.call(t.Context(), d.Client(t, client.Options{}))
				if errName(err) != a.wantErr {
					t.Fatalf("got %v; want %s", err, a.wantErr)
				}
				if msg := err.Error(); strings.Contains(msg, "PolicyKit1") || strings.Contains(msg, "polkit check") {
					t.Errorf("the caller saw polkit's internals: %q", msg)
				}
				if a.answer == bustest.Never && len(d.Authority.Cancelled()) != 1 {
					t.Errorf("polkit never answered and the check was cancelled %d times; want once", len(d.Authority.Cancelled()))
				}
				if m := d.Mutations(); len(m) != 0 {
					t.Errorf("systemd was asked %v; want nothing", m)
				}
				after := d.Engine.Status()
				if before.DryRun != after.DryRun || before.HealingEnabled != after.HealingEnabled ||
					!reflect.DeepEqual(before.Resources, after.Resources) || before.ActiveIssues != after.ActiveIssues ||
					len(before.Silences) != len(after.Silences) {
					t.Errorf("state changed: before %+v; after %+v", before, after)
				}
				denied := d.Events(audit.CallDenied)
				if len(denied) != 1 || denied[0].Outcome != a.outcome || denied[0].Action != strings.Fields(pc.name)[0] {
					t.Errorf("audit: got %+v; want one call-denied record with outcome %s", denied, a.outcome)
				}
			})
		}
	}
}

func TestInteractionIsAllowedOnlyWhenTheCallerSetTheFlag(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	d.Authority.Answer(client.ActionDevelop, bustest.Challenge)
	err := d.Client(t, client.Options{}).SetDryRun(t.Context(), true)
	if !errors.Is(err, client.ErrInteractiveAuthorizationRequired) {
		t.Fatalf("without the flag: got %v; want InteractiveAuthorizationRequired", err)
	}
	d.Authority.Answer(client.ActionDevelop, bustest.Yes) // the password was typed
	if err := d.Client(t, client.Options{Interactive: true}).SetDryRun(t.Context(), true); err != nil {
		t.Fatalf("with the flag: got %v; want success", err)
	}
	reqs := d.Authority.Requests()
	if len(reqs) != 2 || reqs[0].Flags != 0 || reqs[1].Flags != polkit.AllowUserInteraction {
		t.Errorf("polkit was asked %+v; want AllowUserInteraction only the second time", reqs)
	}
}

func TestBadArgumentsAreRejectedBeforePolkitAndChangeNothing(t *testing.T) {
	long := strings.Repeat("a", 5000)
	type raw struct {
		method string
		args   []any
	}
	cases := []struct {
		name string
		raw
		want string
	}{
		{"a unit name with a slash", raw{client.MethodRestartUnit, []any{"../etc/passwd"}}, client.ErrorInvalidArgument},
		{"a unit name with a space", raw{client.MethodRestartUnit, []any{"nginx service"}}, client.ErrorInvalidArgument},
		{"a unit glob", raw{client.MethodThrottle, []any{"*.service"}}, client.ErrorInvalidArgument},
		{"an empty unit name", raw{client.MethodRelease, []any{""}}, client.ErrorInvalidArgument},
		{"a template without instance", raw{client.MethodRestartUnit, []any{"getty@.service"}}, client.ErrorInvalidArgument},
		{"a 5,000-character unit name", raw{client.MethodRestartUnit, []any{long}}, client.ErrorInvalidArgument},
		{"an unknown issue", raw{client.MethodHeal, []any{"unit:nope.service"}}, client.ErrorNotFound},
		{"an empty issue id", raw{client.MethodHeal, []any{""}}, client.ErrorInvalidArgument},
		{"a 5,000-character issue id", raw{client.MethodHeal, []any{long}}, client.ErrorInvalidArgument},
		{"an issue id with a newline", raw{client.MethodResetBreaker, []any{"cpu\nx"}}, client.ErrorInvalidArgument},
		{"a breaker that does not exist", raw{client.MethodResetBreaker, []any{"memory"}}, client.ErrorNotFound},
		{"a NaN threshold", raw{client.MethodSetThreshold, []any{"cpu", math.NaN()}}, client.ErrorInvalidArgument},
		{"an infinite threshold", raw{client.MethodSetThreshold, []any{"cpu", math.Inf(1)}}, client.ErrorInvalidArgument},
		{"a threshold above 100%", raw{client.MethodSetThreshold, []any{"disk", 100.5}}, client.ErrorInvalidArgument},
		{"a negative threshold", raw{client.MethodSetThreshold, []any{"memory", -1.0}}, client.ErrorInvalidArgument},
		{"a zero cpu threshold", raw{client.MethodSetThreshold, []any{"cpu", 0.0}}, client.ErrorInvalidArgument},
		{"an unknown threshold kind", raw{client.MethodSetThreshold, []any{"gpu", 50.0}}, client.ErrorInvalidArgument},
		{"a 5,000-character threshold kind", raw{client.MethodSetThreshold, []any{long, 50.0}}, client.ErrorInvalidArgument},
		{"a history limit above the maximum", raw{client.MethodGetHistory, []any{uint32(client.MaxHistory + 1)}}, client.ErrorInvalidArgument},
		{"an injection without kind", raw{client.MethodInjectIssue, []any{map[string]dbus.Variant{}}}, client.ErrorInvalidArgument},
		{"an injection with an unknown kind", raw{client.MethodInjectIssue, []any{inj("kind", "gpu")}}, client.ErrorInvalidArgument},
		{"an injection with kind of type i", raw{client.MethodInjectIssue, []any{inj("kind", int32(1))}}, client.ErrorInvalidArgument},
		{"an injection with value of type s", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "value", "97")}}, client.ErrorInvalidArgument},
		{"an injection with threshold of type i", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "threshold", int32(90))}}, client.ErrorInvalidArgument},
		{"an injection with an unknown key", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "pid", int32(1))}}, client.ErrorInvalidArgument},
		{"an injection with a NaN value", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "value", math.NaN())}}, client.ErrorInvalidArgument},
		{"an injection with a bad unit", raw{client.MethodInjectIssue, []any{inj("kind", "unit", "subject", "a/b")}}, client.ErrorInvalidArgument},
		{"an injection with severity ok", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "severity", "ok")}}, client.ErrorInvalidArgument},
		{"an injection with a 5,000-character message", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "message", long)}}, client.ErrorInvalidArgument},
		{"an injection with a relative mount", raw{client.MethodInjectIssue, []any{inj("kind", "disk", "subject", "srv")}}, client.ErrorInvalidArgument},
		{"an injection with an escape sequence in its disk subject", raw{client.MethodInjectIssue, []any{inj("kind", "disk", "subject", "/srv/\x1b]0;pwned\x07")}}, client.ErrorInvalidArgument},
		{"an injection with an escape sequence in its message", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "message", "\x1b[2Jall is well")}}, client.ErrorInvalidArgument},
		{"an injection with a bidi override in its message", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "message", "safe \u202elive")}}, client.ErrorInvalidArgument},
		{"an injection with a C1 control in its severity", raw{client.MethodInjectIssue, []any{inj("kind", "cpu", "severity", "warning\u009b")}}, client.ErrorInvalidArgument},
		{"an issue id with a C1 control", raw{client.MethodHeal, []any{"cpu\u009b31m"}}, client.ErrorInvalidArgument},
		{"an issue id with an escape sequence", raw{client.MethodResetBreaker, []any{"cpu\x1b[31m"}}, client.ErrorInvalidArgument},
		{"a silence without expiry", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r")}}, client.ErrorInvalidArgument},
		{"a silence without reason", raw{client.MethodAddSilence, []any{inj("scope", "all", "for_usec", uint64(3600e6))}}, client.ErrorInvalidArgument},
		{"a silence with both expiries", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r", "for_usec", uint64(3600e6), "until", uint64(time.Now().Add(time.Hour).UnixMicro()))}}, client.ErrorInvalidArgument},
		{"a silence that ended already", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r", "until", uint64(time.Now().Add(-time.Hour).UnixMicro()))}}, client.ErrorInvalidArgument},
		{"a silence for a year", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r", "for_usec", uint64(365*24*3600e6))}}, client.ErrorInvalidArgument},
		{"a silence with a bad scope", raw{client.MethodAddSilence, []any{inj("scope", "unit:a/b", "reason", "r", "for_usec", uint64(3600e6))}}, client.ErrorInvalidArgument},
		{"a silence with an unknown effect", raw{client.MethodAddSilence, []any{inj("scope", "all", "effect", "mute", "reason", "r", "for_usec", uint64(3600e6))}}, client.ErrorInvalidArgument},
		{"a silence with for_usec of type i", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r", "for_usec", int32(3600))}}, client.ErrorInvalidArgument},
		{"a silence with an unknown key", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "r", "for_usec", uint64(3600e6), "author", "root")}}, client.ErrorInvalidArgument},
		{"a silence reason with escape sequences", raw{client.MethodAddSilence, []any{inj("scope", "all", "reason", "a\x1b[2Jb", "for_usec", uint64(3600e6))}}, client.ErrorInvalidArgument},
		{"removing a silence that does not exist", raw{client.MethodRemoveSilence, []any{"silence-nope"}}, client.ErrorNotFound},
		{"removing a silence id with a newline", raw{client.MethodRemoveSilence, []any{"a\nb"}}, client.ErrorInvalidArgument},
	}
	d := apitest.Start(t, apitest.Setup{})
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	obj := d.Bus.Conn(t).Object(client.BusName, client.ObjectPath)
	before := d.Engine.Status()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			securitytest.Tried(t, securitytest.BadInput, "D-Bus "+strings.TrimPrefix(c.method, client.Interface+".")+": "+c.name, 1)
			err := obj.CallWithContext(t.Context(), c.method, 0, c.args...).Err
			if got := errName(err); got != c.want {
				t.Fatalf("got %v (%s); want %s", err, got, c.want)
			}
			var de dbus.Error
			if errors.As(err, &de) {
				msg, _ := de.Body[0].(string)
				if msg == "" || strings.Contains(msg, "\n") || len(msg) > 600 {
					t.Errorf("message %q: want one non-empty line", msg)
				}
			}
		})
	}
	if n := len(d.Authority.Requests()); n != 0 {
		t.Errorf("polkit was asked %d times; want never: arguments are checked first", n)
	}
	if m := d.Mutations(); len(m) != 0 {
		t.Errorf("systemd was asked %v; want nothing", m)
	}
	if after := d.Engine.Status(); after.ActiveIssues != before.ActiveIssues || !reflect.DeepEqual(after.Resources, before.Resources) {
		t.Errorf("state changed: before %+v; after %+v", before, after)
	}
}

func inj(kv ...any) map[string]dbus.Variant {
	m := map[string]dbus.Variant{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = dbus.MakeVariant(kv[i+1])
	}
	return m
}

func TestWrongArgumentSignaturesAreRefusedByTheBusLayer(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	obj := d.Bus.Conn(t).Object(client.BusName, client.ObjectPath)
	err := obj.Call(client.MethodSetThreshold, 0, "cpu", "90").Err
	if got := errName(err); got != "org.freedesktop.DBus.Error.InvalidArgs" {
		t.Errorf("SetThreshold(s, s): got %v; want InvalidArgs", err)
	}
	if n := len(d.Authority.Requests()); n != 0 {
		t.Errorf("polkit was asked %d times; want never", n)
	}
}

func TestEngineErrorsBecomeNamedErrors(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	c := d.Client(t, client.Options{})
	ctx := t.Context()
	_, err := c.RestartUnit(ctx, "missing.service")
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("restarting a unit systemd does not know: got %v; want NotFound", err)
	}
	_, err = c.Throttle(ctx, "dbus.service")
	if !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "protected") {
		t.Errorf("throttling a protected unit: got %v; want InvalidArgument saying it is protected", err)
	}
	_, err = c.RestartUnit(ctx, "luminous-healing.service")
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("restarting the daemon itself: got %v; want InvalidArgument", err)
	}
}

func TestDryRunCallsAreAllowedButOnlyPlanned(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.DryRun = true }})
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	res, err := d.Client(t, client.Options{}).RestartUnit(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "planned" || !res.DryRun || res.Target != "web.service" || res.Action != "restart" {
		t.Errorf("got %+v; want a planned restart of web.service", res)
	}
	if m := d.Mutations(); len(m) != 0 {
		t.Errorf("systemd was asked %v in dry-run", m)
	}
}

func TestNoOpSettingsNeedNoAuthorization(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	c := d.Client(t, client.Options{})
	if err := c.SetDryRun(t.Context(), false); err != nil {
		t.Errorf("SetDryRun(false) while off: got %v; want success", err)
	}
	if err := c.SetHealingEnabled(t.Context(), true); err != nil {
		t.Errorf("SetHealingEnabled(true) while on: got %v; want success", err)
	}
	if n := len(d.Authority.Requests()); n != 0 {
		t.Errorf("polkit was asked %d times; want never", n)
	}
}

// ordinary returns a client that the bus sees as an ordinary user: nobody
// when the test runs as root, else the test's own (non-root) user.
func ordinary(t *testing.T, d *apitest.Daemon) *client.Client {
	t.Helper()
	if os.Geteuid() == 0 {
		return client.New(d.Bus.ConnAs(t, 65534), client.Options{})
	}
	return d.Client(t, client.Options{})
}

func TestPrivilegedCallsAreRateLimitedPerCallerAndPolkitAction(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.DBus.CallsPerWindow = 2 }})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	c := ordinary(t, d)
	ctx := t.Context()
	for i, v := range []float64{50, 60} {
		if err := c.SetThreshold(ctx, "cpu", v); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	err := c.SetThreshold(ctx, "cpu", 70)
	if !errors.Is(err, client.ErrRateLimited) {
		t.Fatalf("third call: got %v; want RateLimited", err)
	}
	// Another method that needs the same polkit action shares the budget.
	if err := c.Reload(ctx); !errors.Is(err, client.ErrRateLimited) {
		t.Errorf("Reload after two SetThreshold calls: got %v; want RateLimited (same action, develop)", err)
	}
	if n := len(d.Authority.Requests()); n != 2 {
		t.Errorf("polkit was asked %d times; want 2: limited calls are refused before", n)
	}
	if _, err := c.Cleanup(ctx); err != nil {
		t.Errorf("a call needing another action: got %v; want it counted apart", err)
	}
	denied := d.Events(audit.CallDenied)
	if len(denied) != 1 || denied[0].Outcome != "rate-limited" {
		t.Errorf("audit: got %+v; want one rate-limited denial recorded, the repeat counted", denied)
	}
}

func TestFiveHealTierMethodsShareOnePolkitBudget(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.DBus.CallsPerWindow = 10 }})
	openUnitIssue(t, d)
	c := ordinary(t, d) // polkit answers no to everything
	securitytest.Tried(t, securitytest.Flood, "one ordinary user: 50 calls to five heal-tier methods, at most 10 polkit checks", 50)
	ctx := t.Context()
	calls := []func() error{
		func() error { _, err := c.Heal(ctx, "unit:web.service"); return err },
		func() error { _, err := c.RestartUnit(ctx, "web"); return err },
		func() error { _, err := c.Cleanup(ctx); return err },
		func() error { _, err := c.Throttle(ctx, "other"); return err },
		func() error { _, err := c.Release(ctx, "other"); return err },
	}
	for range 10 {
		for _, call := range calls {
			_ = call()
		}
	}
	if n := len(d.Authority.Requests()); n != 10 {
		t.Errorf("50 heal-tier calls from one caller made %d polkit checks; want 10 (the limit per action)", n)
	}
}

func TestRootIsNotRateLimited(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the exemption is for uid 0")
	}
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.DBus.CallsPerWindow = 2 }})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	c := d.Client(t, client.Options{})
	for i := range 6 {
		if err := c.SetThreshold(t.Context(), "cpu", float64(50+i)); err != nil {
			t.Fatalf("root's call %d with a limit of 2: %v; want success", i+1, err)
		}
	}
}

func TestAFloodOfDeniedCallsIsSummarisedAndKeepsOthersRecords(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) {
		c.DBus.CallsPerWindow = 2
		c.DBus.Window = config.Duration(2 * time.Second)
	}})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	admin := d.Client(t, client.Options{})
	if err := admin.SetThreshold(t.Context(), "cpu", 70); err != nil {
		t.Fatal(err)
	}
	evil := ordinary(t, d)
	securitytest.Tried(t, securitytest.Flood, "one ordinary user: 301 denied Cleanup calls, a few audit records, the administrator's kept", 301)
	obj := evil.Conn().Object(client.BusName, client.ObjectPath)
	for range 300 {
		_ = obj.Call(client.MethodCleanup, 0).Err
	}
	time.Sleep(2100 * time.Millisecond) // the window ends
	_ = obj.Call(client.MethodCleanup, 0).Err
	denied := d.Events(audit.CallDenied)
	// Per window: polkit's 2 denials, the first rate-limited call and the
	// summary of the rest; the calls may straddle two windows.
	if len(denied) > 2*(2+1+1) {
		t.Errorf("%d denial records for 301 calls; want a few, the rest summarised", len(denied))
	}
	var summarised bool
	for _, e := range denied {
		summarised = summarised || strings.Contains(e.Message, "more calls needing")
	}
	if !summarised {
		t.Errorf("no summary among %+v", denied)
	}
	if allowed := d.Events(audit.CallAllowed); len(allowed) != 1 {
		t.Errorf("the administrator's allowed call: %d records; want it kept", len(allowed))
	}
}

func TestSignalsFollowTheEngine(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	c := d.Client(t, client.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	events, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InjectIssue(ctx, client.Injection{Kind: "disk", Subject: "/srv", Value: 97, Threshold: 90, Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, func(e client.Event) bool { return e.Signal == client.SignalIssueDetected })
	if ev.Issue.ID != "disk:/srv" || ev.Issue.Severity != "critical" || !ev.Issue.Synthetic || ev.Issue.Value != 97 {
		t.Errorf("IssueDetected: got %+v", ev.Issue)
	}
	ev = next(t, events, func(e client.Event) bool { return e.Signal == "PropertiesChanged" })
	if !reflect.DeepEqual(keys(ev.Changed), []string{"ActiveIssues", "Health"}) ||
		ev.Changed["Health"].Value() != "critical" || ev.Changed["ActiveIssues"].Value() != uint32(1) {
		t.Errorf("PropertiesChanged: got %v; want exactly ActiveIssues=1 and Health=critical", ev.Changed)
	}
	if err := c.SetDryRun(ctx, true); err != nil {
		t.Fatal(err)
	}
	ev = next(t, events, func(e client.Event) bool { return e.Signal == "PropertiesChanged" })
	if !reflect.DeepEqual(keys(ev.Changed), []string{"DryRun"}) || ev.Changed["DryRun"].Value() != true {
		t.Errorf("PropertiesChanged: got %v; want exactly DryRun=true", ev.Changed)
	}
	// Healing on: the synthetic issue's action is planned (dry-run), the
	// pipeline reports it and the issue ends at the next check.
	if err := c.SetHealingEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	ev = next(t, events, func(e client.Event) bool { return e.Signal == client.SignalActionCompleted })
	if ev.Result.Outcome != "planned" || ev.Result.Issue != "disk:/srv" || ev.Result.Action != "cleanup" {
		t.Errorf("ActionCompleted: got %+v; want the planned cleanup for disk:/srv", ev.Result)
	}
}

func next(t *testing.T, events <-chan client.Event, match func(client.Event) bool) client.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the signal stream ended")
			}
			if match(ev) {
				return ev
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no matching signal within 5s")
		}
	}
}

func keys(m map[string]dbus.Variant) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTheTryItModeAllowsOnlyTheDaemonsOwnUser(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Mode: "user", Authorizer: func(d *apitest.Daemon) dbusapi.Authorizer {
		return dbusapi.NewOwnerOnly(d.Conn, uint32(os.Getuid()))
	}})
	res, err := d.Client(t, client.Options{}).RestartUnit(t.Context(), "web")
	if err != nil || res.Outcome != "planned" {
		t.Errorf("the daemon's own user: got %+v, %v; want allowed and planned (the try-it mode is dry-run)", res, err)
	}
	const nobody = 65534
	_, err = client.New(d.Bus.ConnAs(t, nobody), client.Options{}).RestartUnit(t.Context(), "web")
	if !errors.Is(err, client.ErrAccessDenied) {
		t.Errorf("another user: got %v; want AccessDenied", err)
	}
	// Validated before anyone is asked: dry-run never goes off here.
	err = client.New(d.Bus.ConnAs(t, nobody), client.Options{}).SetDryRun(t.Context(), false)
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("SetDryRun(false) from another user: got %v; want InvalidArgument", err)
	}
	if m := d.Mutations(); len(m) != 0 {
		t.Errorf("systemd was asked %v", m)
	}
	if n := len(d.Authority.Requests()); n != 0 {
		t.Errorf("polkit was asked %d times; the try-it mode does not use it", n)
	}
}

func TestASecondDaemonCannotTakeTheName(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	srv, err := dbusapi.New(d.Bus.Conn(t), dbusapi.Options{Engine: d.Engine, Audit: d.Audit})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Serve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "owned by another process") {
		t.Errorf("got %v; want an error saying the name is taken", err)
	}
}

func TestServeReturnsErrBusLostWhenTheBusDies(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	d.Conn.Close() // as when dbus-daemon dies or kicks the daemon off
	select {
	case err := <-d.Served:
		if !errors.Is(err, dbusapi.ErrBusLost) {
			t.Errorf("got %v; want ErrBusLost", err)
		}
		d.Served <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of the bus dying")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPolkitIsAskedAboutTheUnitAnAliasNames(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	d.Systemd.SetAliases(map[string]string{"www.service": "web.service", "lh-alias.service": "luminous-healing.service"})
	securitytest.Tried(t, securitytest.BadInput, "D-Bus RestartUnit: an alias of the daemon; polkit asked about the unit an alias names", 2)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	c := d.Client(t, client.Options{})
	res, err := c.RestartUnit(t.Context(), "www")
	if err != nil {
		t.Fatal(err)
	}
	reqs := d.Authority.Requests()
	want := map[string]string{"action": "restart", "unit": "web.service"}
	if len(reqs) != 1 || reqs[0].Action != client.ActionHeal || !reflect.DeepEqual(reqs[0].Details, want) {
		t.Errorf("polkit was asked %+v; want %s with details %v: the unit the alias names, which is monitored", reqs, client.ActionHeal, want)
	}
	if res.Target != "web.service" {
		t.Errorf("restarted %s; want web.service", res.Target)
	}
	if _, err := c.RestartUnit(t.Context(), "lh-alias"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("restarting an alias of the daemon: got %v; want InvalidArgument", err)
	}
}
