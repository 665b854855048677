package audit

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const catalogFile = "luminous-healing.catalog"

type catalogEntry struct{ id, subject, body string }

func readCatalog(t *testing.T) []catalogEntry {
	t.Helper()
	f, err := os.Open(catalogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []catalogEntry
	head := regexp.MustCompile(`^-- ([0-9a-f]{32})$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if m := head.FindStringSubmatch(l); m != nil {
			out = append(out, catalogEntry{id: m[1]})
			continue
		}
		if len(out) == 0 {
			continue
		}
		e := &out[len(out)-1]
		if s, ok := strings.CutPrefix(l, "Subject: "); ok {
			e.subject = s
		}
		e.body += l + "\n"
	}
	return out
}

// journalctl -x explains every MESSAGE_ID the daemon writes, and the
// catalog has no entry for an ID the daemon never writes.
func TestTheCatalogExplainsEveryMessageID(t *testing.T) {
	entries := readCatalog(t)
	var inCatalog []string
	for _, e := range entries {
		inCatalog = append(inCatalog, e.id)
		if e.subject == "" || !strings.Contains(e.body, "What to do:") {
			t.Errorf("catalog entry %s: subject %q; want a subject, what happened and \"What to do:\"", e.id, e.subject)
		}
	}
	var inCode []string
	for ev, id := range MessageIDs {
		inCode = append(inCode, id)
		if !slices.Contains(inCatalog, id) {
			t.Errorf("event %s writes MESSAGE_ID=%s, which %s does not explain", ev, id, catalogFile)
		}
	}
	for _, id := range inCatalog {
		if !slices.Contains(inCode, id) {
			t.Errorf("%s explains MESSAGE_ID=%s, which the daemon never writes", catalogFile, id)
		}
	}
	slices.Sort(inCatalog)
	if len(slices.Compact(inCatalog)) != len(entries) {
		t.Errorf("%s has an ID twice", catalogFile)
	}
}

// journalctl itself reads the file, from where make install puts it, and
// lists every entry (journalctl --root: nothing on the host changes).
func TestJournalctlReadsTheCatalog(t *testing.T) {
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skip("SKIPPED, NOT PASSED: journalctl is not installed (apt-get install systemd)")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "usr", "lib", "systemd", "catalog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(catalogFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, catalogFile), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(journalctl, "--root="+root, "--update-catalog").CombinedOutput(); err != nil {
		t.Fatalf("journalctl --update-catalog: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(journalctl, "--root="+root, "--list-catalog")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("journalctl --list-catalog: %v\n%s", err, stderr.String())
	}
	for ev, id := range MessageIDs {
		if !strings.Contains(string(out), id+" luminous-healing: ") {
			t.Errorf("journalctl --list-catalog lacks %s (%s):\n%s", id, ev, out)
		}
	}
}

// journalctl -t luminous-healingd finds the audit entries: without the
// field journald takes the command name, which the kernel truncates to
// "luminous-healin".
func TestAuditEntriesCarryTheDaemonsSyslogIdentifier(t *testing.T) {
	if got := (Entry{Event: IssueDetected}).Fields()["SYSLOG_IDENTIFIER"]; got != "luminous-healingd" {
		t.Errorf("SYSLOG_IDENTIFIER = %q; want luminous-healingd", got)
	}
}
