package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
)

// After make install, journalctl -x explains the daemon's entries from the
// catalog, and journalctl -t luminous-healingd finds them.
func TestJournalctlExplainsTheDaemonsEntries(t *testing.T) {
	m := bootInstalled(t, boot{config: "[monitoring]\ninterval = \"1s\"\n"})
	id := audit.MessageIDs[audit.DaemonStarted]
	var out string
	m.waitFor(10*time.Second, "the daemon's start record under -t luminous-healingd", func() bool {
		out, _, _ = m.Run(t.Context(), "journalctl", "--no-pager", "-x", "-t", "luminous-healingd", "MESSAGE_ID="+id)
		return strings.Contains(out, "What to do:")
	})
	if !strings.Contains(out, "luminous-healingd started") {
		t.Errorf("journalctl -x -t luminous-healingd MESSAGE_ID=%s:\n%s\nwant the catalog's subject", id, out)
	}
	report(t, "journalctl -x explains MESSAGE_ID=%s", id)
}
