package dbusapi_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

// slowPrompt is polkit — the daemon's own client asking the fake authority
// on the bus — with a password prompt that lasts until the test ends it:
// asked receives each request once the authority has answered it, and
// the answer reaches the daemon only when the test sends on typed.
type slowPrompt struct {
	polkit dbusapi.Authorizer
	asked  chan polkit.Request
	typed  chan struct{}
}

func (p *slowPrompt) Check(ctx context.Context, req polkit.Request) (polkit.Decision, error) {
	d, err := p.polkit.Check(ctx, req)
	p.asked <- req
	select {
	case <-p.typed:
		return d, err
	case <-ctx.Done():
		return polkit.Denied, ctx.Err()
	}
}

// A privileged call is checked before polkit is asked, and a password
// prompt can last minutes. What the check found may change meanwhile; the
// call must act only if it is still the one polkit was asked about.
func TestAStateChangeWhilePolkitAsksIsCheckedAgainBeforeActing(t *testing.T) {
	cases := []struct {
		name string
		// prepare gives the call something to work on.
		prepare func(*testing.T, *apitest.Daemon)
		call    func(context.Context, *client.Client) error
		asked   string // the polkit action the call needs when it is made
		// meanwhile changes the state while polkit asks, as another
		// administrator or the daemon itself would.
		meanwhile func(*testing.T, *apitest.Daemon)
		wantErr   error // nil: success
		// check looks at what the call did.
		check func(*testing.T, *apitest.Daemon)
	}{
		{
			name:  "a restart of a unit that a reload drops from monitoring is not done on service-mode authority",
			call:  func(ctx context.Context, c *client.Client) error { _, err := c.RestartUnit(ctx, "web"); return err },
			asked: client.ActionHeal,
			meanwhile: func(t *testing.T, d *apitest.Daemon) {
				// apitest's configuration file is the default one, which
				// monitors nothing.
				if err := d.Engine.Reload(t.Context(), engine.Caller{Name: "admin"}); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: client.ErrActionFailed,
			check: func(t *testing.T, d *apitest.Daemon) {
				if m := d.Mutations(); slices.Contains(m, "RestartUnit web.service replace") {
					t.Errorf("systemd was asked %v: web.service, no longer monitored, was restarted on %s alone", m, client.ActionHeal)
				}
				if r := d.Events(audit.ActionRefused); len(r) != 1 || r[0].Outcome != "changed" || r[0].Target != "web.service" {
					t.Errorf("audit: %+v; want the refusal of the restart recorded", r)
				}
			},
		},
		{
			name:  "a setting another administrator made meanwhile is a no-op",
			call:  func(ctx context.Context, c *client.Client) error { return c.SetDryRun(ctx, true) },
			asked: client.ActionDevelop,
			meanwhile: func(t *testing.T, d *apitest.Daemon) {
				if _, err := d.Engine.SetDryRun(engine.Caller{Name: "admin"}, true); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, d *apitest.Daemon) {
				if n := len(d.Events(audit.SettingChanged)); n != 1 {
					t.Errorf("%d setting changes recorded; want the other administrator's alone", n)
				}
			},
		},
		{
			name:    "a silence removed meanwhile is not found",
			prepare: addSilence,
			call:    func(ctx context.Context, c *client.Client) error { return c.RemoveSilence(ctx, "silence-1") },
			asked:   client.ActionHeal,
			meanwhile: func(t *testing.T, d *apitest.Daemon) {
				if err := d.Engine.RemoveSilence(engine.Caller{Name: "admin"}, "silence-1"); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: client.ErrNotFound,
		},
		{
			name:    "a breaker whose issue ended meanwhile is not found",
			prepare: openUnitIssue,
			call:    func(ctx context.Context, c *client.Client) error { return c.ResetBreaker(ctx, "unit:web.service") },
			asked:   client.ActionHeal,
			meanwhile: func(t *testing.T, d *apitest.Daemon) {
				// Healing the synthetic issue ends it.
				if _, err := d.Engine.Heal(t.Context(), engine.Caller{Name: "admin"}, "unit:web.service"); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the healed issue to end", func() bool { _, open := d.Engine.Issue("unit:web.service"); return !open })
			},
			wantErr: client.ErrNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prompt := &slowPrompt{asked: make(chan polkit.Request, 1), typed: make(chan struct{})}
			d := apitest.Start(t, apitest.Setup{
				Authorizer: func(d *apitest.Daemon) dbusapi.Authorizer {
					prompt.polkit = polkit.New(d.Conn, polkit.Options{Timeout: 5 * time.Second})
					return prompt
				},
				Server: func(o *dbusapi.Options) { o.AuthTimeout = time.Minute },
			})
			if tc.prepare != nil {
				tc.prepare(t, d)
			}
			d.MarkMutations()
			d.Authority.Answer(client.ActionHeal, bustest.Yes)
			d.Authority.Answer(client.ActionDevelop, bustest.Yes)

			done := make(chan error, 1)
			go func() { done <- tc.call(t.Context(), d.Client(t, client.Options{})) }()
			select {
			case req := <-prompt.asked:
				if req.Action != tc.asked {
					t.Fatalf("polkit was asked about %s; want %s", req.Action, tc.asked)
				}
			case err := <-done:
				t.Fatalf("the call returned %v before polkit was asked", err)
			case <-time.After(10 * time.Second):
				t.Fatal("polkit was never asked")
			}
			tc.meanwhile(t, d)
			close(prompt.typed)
			err := <-done
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v; want %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}
