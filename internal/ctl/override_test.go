package ctl

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// A setting changed with `healingctl set` stands in for the file's until a
// reload, across restarts too; status says so, so that nobody wonders why
// the file's threshold does not hold (before, nothing showed it).
func TestStatusShowsTheOverridesInForceUntilAReload(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	if r := healingctl("status"); strings.Contains(r.stdout, "Override") {
		t.Fatalf("an override before any set:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"set", "threshold", "cpu", "70"}, {"set", "dry-run", "on"}} {
		if r := healingctl(args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	r := healingctl("status")
	if !strings.Contains(r.stdout, "Override: healing.dry_run=true, thresholds.cpu=70 (set at run time; kept across restarts until 'healingctl reload'") {
		t.Errorf("status:\n%s\nwant the overrides in force, and until when", r.stdout)
	}
	var st struct{ Overrides []string }
	if err := json.Unmarshal([]byte(healingctl("--json", "status").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if want := []string{"healing.dry_run=true", "thresholds.cpu=70"}; !slices.Equal(st.Overrides, want) {
		t.Errorf("--json status overrides = %q; want %q", st.Overrides, want)
	}
	if r := healingctl("reload"); r.code != 0 {
		t.Fatalf("reload: exit %d: %s", r.code, r.stderr)
	}
	if r := healingctl("status"); strings.Contains(r.stdout, "Override") {
		t.Errorf("status after reload:\n%s\nwant no override", r.stdout)
	}
}
