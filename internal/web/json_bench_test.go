package web

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// BenchmarkAPIJSON is what the records cost the HTTP API: /api/v1/status
// of a machine's size (ten series, three units, two issues) and 100 history
// records, turned into JSON. The dashboard's stream sends the same status.
//
//	go test -run '^$' -bench APIJSON ./internal/web
func BenchmarkAPIJSON(b *testing.B) {
	now := time.Now()
	st := &engine.Status{Version: "1", Mode: "system", Hostname: "h", Health: issue.Warning, LastCheck: now,
		Started: now, Interval: 30 * time.Second, Systemd: true, MonitoredUnits: []string{"a.service", "b.service", "c.service"},
		Built: now, Overrides: []string{"thresholds.cpu=70"}}
	for i := range 10 {
		st.Resources = append(st.Resources, engine.Resource{Reading: detect.Reading{ID: fmt.Sprintf("disk:/m%d", i), Kind: "disk",
			Subject: fmt.Sprintf("/m%d", i), Value: float64(i * 9)}, Threshold: 90, Severity: issue.OK})
	}
	for _, u := range st.MonitoredUnits {
		st.Units = append(st.Units, engine.UnitInfo{Name: u, ActiveState: "active", SubState: "running"})
	}
	for i := range 2 {
		st.Issues = append(st.Issues, issue.Record{ID: fmt.Sprintf("unit:u%d.service", i), Kind: issue.Unit, Subject: "u.service",
			Severity: issue.Critical, Since: now, Action: issue.Restart, State: issue.Failed, Message: "u.service failed", Attempts: 2})
	}
	var history []audit.Entry
	for i := range 100 {
		history = append(history, audit.Entry{Time: now, Event: audit.ActionSucceeded, Action: "restart",
			Target: fmt.Sprintf("u%d.service", i), Outcome: "succeeded", Message: "restarted", CallerUID: -1, Duration: time.Millisecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(statusOf(st)); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(historyOf(history)); err != nil {
			b.Fatal(err)
		}
	}
}
