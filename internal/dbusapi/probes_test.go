package dbusapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/probe"
)

// ListProbes is open to every caller; RunProbe asks polkit for the heal
// action with the unit, runs the probe on a yes, and says which unit has
// no probe or is no unit at all.
func TestListProbesIsOpenAndRunProbeNeedsTheHealAction(t *testing.T) {
	ln := apitest.TCPTarget(t)
	addr := ln.Addr().String()
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) {
		c.Probes = []config.Probe{{Spec: probe.Spec{Unit: "web.service", Type: probe.TCP, Address: addr,
			Interval: time.Hour, Timeout: time.Second, Failures: 3, Action: probe.ActionNone}}}
	}})
	ctx := t.Context()
	c := ordinary(t, d)
	ps, err := c.Probes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Unit != "web.service" || ps[0].Type != "tcp" || ps[0].Target != "tcp "+addr ||
		ps[0].Interval != time.Hour || ps[0].Failures != 3 || ps[0].Action != "none" {
		t.Fatalf("ListProbes = %+v", ps)
	}

	d.Authority.Answer(client.ActionHeal, bustest.No)
	if _, err := c.RunProbe(ctx, "web"); !errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("RunProbe with polkit saying no: %v; want AccessDenied", err)
	}
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	r, err := c.RunProbe(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Unit != "web.service" || r.Type != "tcp" || !strings.Contains(r.Detail, addr) || r.At.IsZero() {
		t.Fatalf("RunProbe = %+v", r)
	}
	reqs := d.Authority.Requests()
	last := reqs[len(reqs)-1]
	if last.Action != client.ActionHeal || last.Details["action"] != "probe" || last.Details["unit"] != "web.service" {
		t.Errorf("polkit was asked %+v", last)
	}
	if _, err := c.RunProbe(ctx, "db"); !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "db.service has no probe") {
		t.Errorf("RunProbe of a unit without a probe: %v; want NotFound naming it", err)
	}
	if _, err := c.RunProbe(ctx, "a/b"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("RunProbe of a bad name: %v; want InvalidArgument", err)
	}
}
