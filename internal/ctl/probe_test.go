package ctl

import (
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/probe"
)

// status lists the probes; healingctl probe runs one through polkit's heal
// action, prints its result and exits 1 when it fails.
func TestProbeCommandAndStatus(t *testing.T) {
	ln := apitest.TCPTarget(t)
	addr := ln.Addr().String()
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) {
		c.Probes = []config.Probe{{Spec: probe.Spec{Unit: "web.service", Type: probe.TCP, Address: addr,
			Interval: time.Hour, Timeout: time.Second, Failures: 3, Action: probe.ActionRestart}}}
	}})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)

	deadline := time.Now().Add(5 * time.Second)
	var r result
	for {
		r = healingctl("status")
		if strings.Contains(r.stdout, "ok ") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.code != show.ExitOK || !strings.Contains(r.stdout, "PROBE") || !strings.Contains(r.stdout, "tcp "+addr) || !strings.Contains(r.stdout, "0/3") {
		t.Fatalf("status does not show the probe having run:\n%s%s", r.stdout, r.stderr)
	}

	d.Authority.Answer(client.ActionHeal, bustest.No)
	if r := healingctl("probe", "web"); r.code != show.ExitDenied {
		t.Errorf("polkit says no: exit %d; want %d\n%s", r.code, show.ExitDenied, r.stderr)
	}
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	if r := healingctl("probe", "web"); r.code != show.ExitOK || !strings.Contains(r.stdout, "probe web.service (tcp): ok — connected to "+addr) {
		t.Errorf("probe web: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if r := healingctl("--json", "probe", "web"); r.code != show.ExitOK || !strings.Contains(r.stdout, `"ok": true`) && !strings.Contains(r.stdout, `"ok":true`) {
		t.Errorf("--json probe web: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if r := healingctl("probe", "db"); r.code != show.ExitFailure || !strings.Contains(r.stderr, "db.service has no probe") {
		t.Errorf("probe db: exit %d\nstderr: %s", r.code, r.stderr)
	}
	ln.Close()
	if r := healingctl("probe", "web"); r.code != show.ExitFailure || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stderr, "the probe failed") {
		t.Errorf("probe of a closed port: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
