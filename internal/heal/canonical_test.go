package heal_test

import (
	"errors"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
)

// Protected and self checks compare names, so they must compare the unit
// systemd would act on, not the name a caller typed: an alias names its
// unit. And slices and scopes are never throttled: -.slice and
// system.slice hold the daemon itself and everything else.
func TestOperatorActionsResolveAliasesAndNeverThrottleSlicesOrScopes(t *testing.T) {
	f := healtest.New(
		heal.UnitStatus{Name: "systemd-logind.service", ActiveState: "active", SubState: "running"},
		heal.UnitStatus{Name: "luminous-healing.service", ActiveState: "active", SubState: "running"},
		heal.UnitStatus{Name: "system.slice", ActiveState: "active"},
		heal.UnitStatus{Name: "-.slice", ActiveState: "active"},
		heal.UnitStatus{Name: "user-1000.slice", ActiveState: "active"},
		heal.UnitStatus{Name: "session-2.scope", ActiveState: "active"},
		heal.UnitStatus{Name: "web.service", ActiveState: "active", SubState: "running"},
	)
	f.Aliases = map[string]string{
		"dbus-org.freedesktop.login1.service": "systemd-logind.service",
		"lh-alias.service":                    "luminous-healing.service",
		"www.service":                         "web.service",
	}
	h := heal.New(f, testSettings(), nil)
	refused := []struct {
		name   string
		action issue.Action
		target string
		want   error
	}{
		{"throttling an alias of logind", issue.Throttle, "dbus-org.freedesktop.login1.service", heal.ErrProtected},
		{"throttling system.slice", issue.Throttle, "system.slice", heal.ErrProtected},
		{"throttling -.slice", issue.Throttle, "-.slice", heal.ErrProtected},
		{"throttling a user's slice", issue.Throttle, "user-1000.slice", heal.ErrProtected},
		{"throttling a session scope", issue.Throttle, "session-2.scope", heal.ErrProtected},
		{"restarting an alias of the daemon", issue.Restart, "lh-alias.service", heal.ErrSelf},
		{"throttling an alias of the daemon", issue.Throttle, "lh-alias.service", heal.ErrSelf},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			securitytest.Tried(t, securitytest.BadInput, "operator "+tt.name, 1)
			res := h.Do(t.Context(), heal.Request{Action: tt.action, Target: tt.target, Operator: true})
			if res.Outcome != heal.Refused || !errors.Is(res.Err, tt.want) {
				t.Errorf("got %s (%v: %s); want refused with %v", res.Outcome, res.Err, res.Message, tt.want)
			}
		})
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("systemd was asked %q; want nothing", calls)
	}
	res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "www.service", Operator: true})
	if res.Outcome != heal.Succeeded || res.Target != "web.service" {
		t.Errorf("restarting an alias of web.service: %s on %s; want it succeeded on web.service", res.Outcome, res.Target)
	}
}

// polkit was asked about the issue's action (throttle); an operator's
// Heal must not turn into a restart of a unit that the prompt never named.
func TestAnOperatorsHealNeverEscalatesBeyondWhatPolkitWasAskedAbout(t *testing.T) {
	f := healtest.New(heal.UnitStatus{Name: "leaky.service", ActiveState: "active", MemoryCurrent: 6 << 30})
	f.Usage = []heal.Usage{{Unit: "leaky.service", MemoryCurrent: 6 << 30}}
	h := heal.New(f, testSettings(), nil)
	res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Operator: true,
		Issue: issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Critical}})
	if res.Escalated || res.Action != issue.Throttle {
		t.Errorf("an operator's Heal became %s (escalated=%v, %s); want a throttle, as polkit was asked", res.Action, res.Escalated, res.Message)
	}
	for _, c := range f.Calls() {
		if c == "RestartUnit leaky.service fail" {
			t.Errorf("calls = %q; want no restart", f.Calls())
		}
	}
}
