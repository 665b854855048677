package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
)

// stalledSink is a log handler that stops answering while held, as the
// journal's socket does when journald is stuck: every write waits.
type stalledSink struct {
	held    chan struct{} // closed: writes go through
	entered chan struct{} // gets one value per write that starts
	mu      sync.Mutex
	got     []slog.Record
}

func (s *stalledSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *stalledSink) Handle(_ context.Context, r slog.Record) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.held
	s.mu.Lock()
	s.got = append(s.got, r)
	s.mu.Unlock()
	return nil
}
func (s *stalledSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *stalledSink) WithGroup(string) slog.Handler      { return s }

func (s *stalledSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, r := range s.got {
		out[i] = r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "dropped" {
				out[i] += fmt.Sprintf(" (dropped %v)", a.Value)
			}
			return true
		})
	}
	return out
}

// A journal that does not answer holds up no one who records: Record
// returns at once, the history has every entry, the journal gets them in
// order once it answers, and what did not fit the bounded queue is
// counted and said in their place. It failed before: Record wrote to the
// journal itself and waited as long as the journal did.
func TestAStalledJournalHoldsUpNoRecord(t *testing.T) {
	sink := &stalledSink{held: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := audit.New(audit.Options{Size: 2 * audit.JournalQueue, Logger: slog.New(sink)})
	const extra = 5
	n := 1 + audit.JournalQueue + extra // one being written, a full queue, then extra
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for i := range n {
			if i == 1 {
				<-sink.entered // the first entry is being written
			}
			l.Record(audit.Entry{Event: audit.SettingChanged, Message: fmt.Sprintf("entry %d", i)})
		}
	}()
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		close(sink.held)
		t.Fatal("Record waited for the stalled journal")
	}
	if got := len(l.History(0)); got != n {
		t.Errorf("history holds %d entries while the journal is stalled; want all %d", got, n)
	}
	if got := l.Dropped(); got != extra {
		t.Errorf("Dropped() = %d; want %d", got, extra)
	}
	close(sink.held)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	var want []string
	for i := range n - extra {
		want = append(want, fmt.Sprintf("entry %d", i))
	}
	want = append(want, fmt.Sprintf("%s (dropped %d)", audit.DroppedMessage, extra))
	got := sink.messages()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the journal got %d lines:\n%q\nwant %d:\n%q", len(got), got, len(want), want)
	}
}
