package silence

import (
	"testing"
	"time"
)

// TestValidateHoldsASavedSilenceToTheLiveLimits: Validate is what a silence
// read back from silences.json passes, so a hand-edited or damaged file
// must not bring back what AddSilence refuses: a silence that effectively
// never ends (beyond MaxDuration), one with no start, or an id with
// control characters, which reaches terminals and log lines. Before the
// fix all three passed.
func TestValidateHoldsASavedSilenceToTheLiveLimits(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	good := Silence{ID: "silence-0a1b2c3d", Scope: "unit:web.service", Effect: Pause, Reason: "upgrade",
		Author: "alice (uid 1000)", AuthorUID: 1000, Created: now, Starts: now, Expires: now.Add(time.Hour)}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good silence: %v", err)
	}
	longest := good
	longest.Expires = now.Add(MaxDuration)
	if err := longest.Validate(); err != nil {
		t.Errorf("a silence of exactly MaxDuration: %v", err)
	}
	for name, mod := range map[string]func(*Silence){
		"ten years long":    func(s *Silence) { s.Expires = now.AddDate(10, 0, 0) },
		"no start":          func(s *Silence) { s.Created, s.Starts = time.Time{}, time.Time{} },
		"id with an escape": func(s *Silence) { s.ID = "silence-\x1b[2J" },
	} {
		s := good
		mod(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, s)
		}
	}
}
