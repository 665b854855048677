package client

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

func TestDecodedRecordsArePrintable(t *testing.T) {
	h := Decode[HistoryEntry](map[string]dbus.Variant{
		"message": dbus.MakeVariant("InjectIssue(disk:/srv/\x1b[2J) by uid 1000 denied"),
		"issue":   dbus.MakeVariant("disk:/srv/\x1b[2J"),
	})
	if h.Message != `InjectIssue(disk:/srv/\x1b[2J) by uid 1000 denied` || h.Issue != `disk:/srv/\x1b[2J` {
		t.Errorf("decoded %q, %q; want the escape shown, not sent", h.Message, h.Issue)
	}
}
