package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forgeIssue is run as an ordinary user: it sends the daemon's
// IssueDetected, unicast to every healingctl connection on the bus and
// broadcast, and prints how many it sent. Any user may send a signal to
// any connection on the system bus.
const forgeIssue = `
names=$(busctl list --unique --no-legend | awk '$3 == "healingctl" { print $1 }')
[ -n "$names" ] || { echo "no healingctl connection found" >&2; exit 1; }
n=0
for d in $names ""; do
	busctl emit ${d:+--destination=$d} /org/luminous/Healing org.luminous.Healing1 IssueDetected \
		'a{sv}' 4 id s unit:forged.service kind s unit severity s critical message s "forged by mallory" && n=$((n+1))
done
echo "$n"
`

// healingctl watch (and so the desktop notifier and the dashboard, which
// share its client.Watch) believes only the owner of org.luminous.Healing:
// another ordinary user's IssueDetected, unicast to alice's watch, is not
// shown to her.
func TestAForgedDaemonSignalReachesNoWatcher(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-web.service"}})
	for _, u := range []string{"alice", "mallory"} {
		if err := m.AddUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	watch := m.Command(ctx, "alice", "healingctl", "watch")
	var out, errb syncBuffer
	watch.Stdout, watch.Stderr = &out, &errb
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = watch.Wait() }()
	m.waitFor(15*time.Second, "alice's healingctl watch to start", func() bool { return strings.Contains(errb.String(), "Watching luminous-healingd") })

	sentOut, stderr, err := m.RunAs(t.Context(), "mallory", "sh", "-c", forgeIssue)
	if err != nil {
		t.Fatalf("forging as mallory: %v\n%s", err, stderr)
	}
	sent, _ := strconv.Atoi(strings.TrimSpace(sentOut))
	if sent < 2 {
		t.Fatalf("mallory sent %q signals (%s): the scenario tests nothing", sentOut, stderr)
	}
	// The daemon's own news after the forged one: once it shows, the
	// forged one would have too.
	m.MustRun(t, "healingctl", "inject", "--severity", "warning", "--message", "from the daemon", "memory")
	m.waitFor(15*time.Second, "alice's watch to show the daemon's IssueDetected", func() bool {
		return strings.Contains(out.String(), "IssueDetected    memory")
	})
	if strings.Contains(out.String(), "forged") {
		t.Fatalf("alice's healingctl watch showed mallory's forged signal:\n%s", out.String())
	}
	report(t, "forged IssueDetected from an ordinary user: %d sent (unicast to each healingctl, broadcast), not shown; the daemon's next one was", sent)
}
