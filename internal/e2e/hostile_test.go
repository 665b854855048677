package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// forgeProps is run as an ordinary user: it sends systemd's
// PropertiesChanged for unit path $1 saying ActiveState=$2, unicast to each
// of the daemon's bus connections and broadcast, $3 times over. The system
// bus's default policy lets any user send any signal.
const forgeProps = `
path=$1 state=$2 rounds=$3
pid=$(systemctl show -P MainPID luminous-healing.service)
names=$(busctl list --unique --no-legend | awk -v p="$pid" '$2 == p { print $1 }')
[ -n "$names" ] || { echo "no daemon connections found" >&2; exit 1; }
n=0
for r in $(seq "$rounds"); do
	for d in $names ""; do
		busctl emit ${d:+--destination=$d} "$path" org.freedesktop.DBus.Properties PropertiesChanged \
			'sa{sv}as' org.freedesktop.systemd1.Unit 2 ActiveState s "$state" SubState s running 0 && n=$((n+1))
	done
done
echo "$n"
`

// forgeJobs is run as an ordinary user: for $2 seconds it watches
// systemd's job list, which anyone may read, and for each job on unit $1
// broadcasts JobRemoved(…, "failed") with that job's id and path.
const forgeJobs = `
unit=$1 secs=$2
end=$(( $(date +%s) + secs )) n=0
while [ "$(date +%s)" -lt "$end" ]; do
	for id in $(systemctl list-jobs --no-legend 2>/dev/null | awk -v u="$unit" '$2 == u { print $1 }'); do
		busctl emit /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager JobRemoved \
			uoss "$id" "/org/freedesktop/systemd1/job/$id" "$unit" failed && n=$((n+1))
	done
done
echo "$n"
`

func TestAHostileOrdinaryUserGetsNothing(t *testing.T) {
	units := healingUnits()
	// A restart that takes a second gives a forged JobRemoved time to land
	// between the restart call and systemd's own JobRemoved.
	units["lh-slow.service"] = unitFile("/bin/sleep infinity", "ExecStartPre=/bin/sleep 1")
	config := strings.Replace(healingConfig, `monitored = ["lh-web", "lh-flaky"]`, `monitored = ["lh-web", "lh-flaky", "lh-slow"]`, 1)
	m := bootInstalled(t, boot{config: config, units: units, start: []string{"lh-web.service", "lh-slow.service"}})
	if err := m.AddUser(t.Context(), "mallory"); err != nil {
		t.Fatal(err)
	}

	t.Run("a forged PropertiesChanged(active) neither resolves a given-up unit nor re-arms its breaker", func(t *testing.T) {
		t0 := time.Now()
		m.Run(t.Context(), "systemctl", "start", "lh-flaky.service")
		m.waitFor(30*time.Second, "the breaker to give lh-flaky up", func() bool {
			return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.BreakerOpened]))) > 0
		})
		t1 := time.Now()
		securitytest.Tried(t, securitytest.Forged, "real system bus: PropertiesChanged(active) for a given-up unit from an ordinary user, unicast and broadcast", 60)
		out, stderr, err := m.RunAs(t.Context(), "mallory", "sh", "-c", forgeProps, "forge",
			"/org/freedesktop/systemd1/unit/lh_2dflaky_2eservice", "active", "10")
		if err != nil {
			t.Fatalf("forging as mallory: %v\n%s", err, stderr)
		}
		sent, _ := strconv.Atoi(strings.TrimSpace(out))
		if sent == 0 {
			t.Fatalf("mallory sent no signal (%q, %s): the scenario tests nothing", out, stderr)
		}
		time.Sleep(3 * time.Second) // several checks
		acted := m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
			id := e.Field("MESSAGE_ID")
			return id == audit.MessageIDs[audit.BreakerReset] || id == audit.MessageIDs[audit.ActionSucceeded] ||
				id == audit.MessageIDs[audit.ActionFailed] || id == audit.MessageIDs[audit.IssueResolved]
		})
		for _, e := range acted {
			t.Errorf("after %d forged signals the daemon acted: %s", sent, e.Field("MESSAGE"))
		}
		if st := m.state("lh-flaky.service"); st != "failed" {
			t.Errorf("lh-flaky is %s; want failed and left so", st)
		}
		if !strings.Contains(m.daemonLog(), "ignoring a signal that systemd did not send") {
			t.Errorf("the daemon did not say it ignored forged signals\n%s", m.daemonLog())
		}
		if t.Failed() {
			return
		}
		report(t, "forged PropertiesChanged(active) from an ordinary user: %d sent (unicast and broadcast), refused, nothing changed", sent)
	})

	t.Run("a forged JobRemoved(failed) does not become the result of the daemon's restart", func(t *testing.T) {
		securitytest.Tried(t, securitytest.Forged, "real system bus: JobRemoved(failed) for the daemon's restart job from an ordinary user", 1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		forger := m.Command(ctx, "mallory", "sh", "-c", forgeJobs, "forge", "lh-slow.service", "6")
		var fout syncBuffer
		forger.Stdout, forger.Stderr = &fout, &fout
		if err := forger.Start(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		time.Sleep(300 * time.Millisecond)
		m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-slow.service")
		m.waitFor(15*time.Second, "the daemon's restart of lh-slow to end", func() bool {
			return len(m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
				return e.Field("HEALING_TARGET") == "lh-slow.service" && e.Field("HEALING_ACTION") == "restart" &&
					(e.Field("HEALING_OUTCOME") == "succeeded" || e.Field("HEALING_OUTCOME") == "failed")
			})) > 0
		})
		if err := forger.Wait(); err != nil {
			t.Fatalf("forger: %v\n%s", err, fout.String())
		}
		sent, _ := strconv.Atoi(strings.TrimSpace(fout.String()))
		failed := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionFailed]))
		if sent == 0 {
			t.Fatalf("mallory sent no JobRemoved (%q): the scenario tests nothing\n%s", fout.String(), m.daemonLog())
		}
		if len(failed) != 0 {
			t.Errorf("a restart failed while mallory forged its job's result: %q\n%s", failed[0].Field("MESSAGE"), m.daemonLog())
		}
		if !m.isActive("lh-slow.service") {
			t.Errorf("lh-slow is not active after the daemon's restart")
		}
		if t.Failed() {
			return
		}
		report(t, "forged JobRemoved(failed) from an ordinary user: %d sent during a restart, refused, the restart succeeded", sent)
	})

	t.Run("a flood of denied calls keeps the administrator's records and the journal", func(t *testing.T) {
		t0 := time.Now()
		securitytest.Tried(t, securitytest.Flood, "real system bus: 300 Cleanup calls from an ordinary user; journal records and the administrator's record", 300)
		m.MustRun(t, "healingctl", "set", "threshold", "cpu", "85")
		out, stderr, err := m.RunAs(t.Context(), "mallory", "sh", "-c", `
n=0
for i in $(seq 300); do
	busctl call org.luminous.Healing /org/luminous/Healing org.luminous.Healing1 Cleanup >/dev/null 2>&1 || n=$((n+1))
done
echo "$n"`)
		if err != nil {
			t.Fatalf("flooding as mallory: %v\n%s", err, stderr)
		}
		refused, _ := strconv.Atoi(strings.TrimSpace(out))
		if refused != 300 {
			t.Errorf("%d of mallory's 300 Cleanup calls were refused; want all", refused)
		}
		denied := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallDenied]))
		// polkit's own refusals, bounded by calls_per_window (10), are
		// each recorded; of the rate-limited rest, the first, and a
		// summary when the window ends.
		if len(denied) > 10+2 {
			t.Errorf("%d call-denied journal records for 300 calls; want at most 12, the rest summarised", len(denied))
		}
		hist := m.MustRun(t, "healingctl", "--json", "history", "-n", "0")
		if !strings.Contains(hist, `"SetThreshold"`) || !strings.Contains(hist, `"call-allowed"`) {
			t.Errorf("the administrator's SetThreshold is gone from the history after the flood:\n%.2000s", hist)
		}
		if t.Failed() {
			return
		}
		report(t, "flood: 300 Cleanup calls from an ordinary user: all refused, %d journal records, the administrator's record kept", len(denied))
	})

	t.Run("control characters in an ordinary user's arguments are refused before polkit", func(t *testing.T) {
		t0 := time.Now()
		securitytest.Tried(t, securitytest.BadInput, "real system bus: an escape sequence in InjectIssue's disk subject from an ordinary user", 1)
		_, stderr, err := m.RunAs(t.Context(), "mallory", "sh", "-c",
			`busctl call org.luminous.Healing /org/luminous/Healing org.luminous.Healing1 InjectIssue 'a{sv}' 2 kind s disk subject s "$(printf '/srv/\033]0;pwned\007')"`)
		if err == nil || !strings.Contains(stderr, "control characters") {
			t.Errorf("InjectIssue with an escape sequence: err %v, %q; want InvalidArgument saying control characters", err, stderr)
		}
		log := m.daemonLog()
		if strings.ContainsRune(log, 0x1b) {
			t.Errorf("an escape character reached the daemon's journal")
		}
		for _, args := range [][]string{{"healingctl", "history"}, {"healingctl", "--json", "history"}, {"healingctl", "issues"}} {
			if out := m.MustRun(t, args...); strings.ContainsRune(out, 0x1b) || strings.Contains(out, "pwned") {
				t.Errorf("%v shows the caller's escape sequence:\n%q", args, out)
			}
		}
		if n := len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallDenied]))); n != 0 {
			t.Errorf("%d call-denied records; want none: the argument is refused before polkit, unaudited", n)
		}
		if t.Failed() {
			return
		}
		report(t, "bad input: an escape sequence in InjectIssue's disk subject from an ordinary user: refused as InvalidArgument before polkit, nothing recorded")
	})

	t.Run("root is not rate-limited", func(t *testing.T) {
		for i := range 15 {
			if r := m.healingctl("", "set", "threshold", "cpu", strconv.Itoa(70+i)); r.code != 0 {
				t.Fatalf("root's call %d: exit %d: %s", i+1, r.code, r.stderr)
			}
		}
		report(t, "root: 15 SetThreshold calls in a row, none rate-limited (the limit is 10 for other users)")
	})
}
