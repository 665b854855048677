package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// healingctl --json watch prints what docs/healingctl.md says: one object
// per line, records with the D-Bus records' snake_case keys and times in µs
// since the epoch, PropertiesChanged with the values that changed — and the
// documented jq example prints the issue's id.
func TestWatchJSONIsTheDocumentedRecords(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- runContext(ctx, []string{"healingctl", "--json", "watch"}, pw, io.Discard)
		pw.Close()
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	cl, err := client.Dial(t.Context(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		// The watch subscribes after it starts: inject until it reports.
		if i%10 == 0 {
			cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web", Severity: "critical", Message: "web.service failed"})
		}
		select {
		case l := <-lines:
			got = append(got, l)
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no IssueDetected from healingctl --json watch; lines:\n%s", strings.Join(got, "\n"))
		}
		if strings.Contains(strings.Join(got, "\n"), `"IssueDetected"`) && strings.Contains(strings.Join(got, "\n"), `"PropertiesChanged"`) {
			break
		}
	}
	cancel()
	<-done
	for l := range lines {
		got = append(got, l)
	}

	sawIssue := false
	for _, l := range got {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not one JSON object per line: %v\n%s", err, l)
		}
		switch ev["signal"] {
		case "IssueDetected", "IssueResolved", "IssueChanged":
			rec, _ := ev["record"].(map[string]any)
			for k := range rec {
				if k != strings.ToLower(k) {
					t.Errorf("%s record key %q; want snake_case as the D-Bus record has it", ev["signal"], k)
				}
			}
			since, ok := rec["since"].(float64)
			if now := float64(time.Now().UnixMicro()); !ok || since < now-6e7 || since > now+6e7 {
				t.Errorf("%s since = %v; want µs since the epoch, about now", ev["signal"], rec["since"])
			}
			if ev["signal"] == "IssueDetected" {
				sawIssue = rec["id"] == "unit:web.service"
			}
		case "PropertiesChanged":
			changed, _ := ev["changed"].(map[string]any)
			if len(changed) == 0 {
				t.Errorf("PropertiesChanged with nothing changed: %s", l)
			}
			for k, v := range changed {
				if v == nil || v == "" {
					t.Errorf("PropertiesChanged %s = %v: want its value", k, v)
				}
			}
		}
	}
	if !sawIssue {
		t.Errorf("no IssueDetected with id unit:web.service in:\n%s", strings.Join(got, "\n"))
	}

	// docs/healingctl.md's example, with the real jq where it is installed.
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Log("jq is not installed: the example's filter was checked on the JSON above only")
		return
	}
	cmd := exec.Command(jq, "-c", `select(.signal == "IssueDetected") | .record.id`)
	cmd.Stdin = strings.NewReader(strings.Join(got, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jq: %v", err)
	}
	if !strings.Contains(string(out), `"unit:web.service"`) || strings.Contains(string(out), "null") {
		t.Errorf("the documented jq example printed %q; want the issue's id", out)
	}
}
