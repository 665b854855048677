package ctl

import (
	"bytes"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func TestIssuesShowTheCauseSafely(t *testing.T) {
	var b bytes.Buffer
	printIssues(&b, []client.Issue{{ID: "unit:web.service", Severity: "critical", State: "waiting", Action: "restart",
		Message: "web.service failed (exit-code)", Cause: "exit-code: exited with status 1; last log lines: bind() to :443 failed\x1b[2J"}}, false)
	out := b.String()
	if !strings.Contains(out, "because: exit-code: exited with status 1; last log lines: bind() to :443 failed") {
		t.Errorf("issues table %q; want the cause after the message", out)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("issues table %q carries an escape character", out)
	}
}
