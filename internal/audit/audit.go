// Package audit records what the daemon decides and does: every issue, every
// action (executed, planned, refused or failed), every authorization decision
// and every change of settings. Each entry goes to the journal with
// structured fields and a fixed MESSAGE_ID per event type (stderr where no
// journal runs), and into a bounded history that is persisted in the state
// directory and readable over D-Bus.
//
// It imports the state leaf package; the engine and the D-Bus server use it.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/luminous-healing/luminous-healing/internal/state"
)

// Event is the type of an audit entry.
type Event string

const (
	IssueDetected   Event = "issue-detected"
	IssueResolved   Event = "issue-resolved"
	ActionSucceeded Event = "action-succeeded"
	ActionFailed    Event = "action-failed"
	ActionPlanned   Event = "action-planned"
	ActionRefused   Event = "action-refused"
	CallAllowed     Event = "call-allowed"
	CallDenied      Event = "call-denied"
	BreakerOpened   Event = "breaker-opened"
	BreakerReset    Event = "breaker-reset"
	SettingChanged  Event = "setting-changed"
	PredictionAlert Event = "prediction-alert"
	DaemonStarted   Event = "daemon-started"
	// StoppedOnPurpose: a monitored unit went down through a stop job
	// (outcome "stopped") or was started again after that ("re-armed").
	StoppedOnPurpose Event = "stopped-on-purpose"
	// RestartedBySystemd: systemd restarted a monitored unit by itself
	// (Restart=); the daemon did not act.
	RestartedBySystemd Event = "restarted-by-systemd"
	// SilenceAdded: an operator added a silence, or a maintenance window
	// started; SilenceEnded: one was removed, expired or ended.
	SilenceAdded Event = "silence-added"
	SilenceEnded Event = "silence-ended"
)

// MessageIDs are the journal MESSAGE_IDs, one per event type, fixed forever
// so that `journalctl MESSAGE_ID=…` and log pipelines can rely on them.
var MessageIDs = map[Event]string{
	IssueDetected:   "5f4098c190db426fb8045a4507861c3a",
	IssueResolved:   "f55acb7fc5d241dea697cbb32a477b1c",
	ActionSucceeded: "a5b48b98f22b449db8c7a3280753ab49",
	ActionFailed:    "b6a7d067df7f4755a7d706d50e1cdf09",
	ActionPlanned:   "2867ea9ca87e4482b4ec7f2f59a7bfe9",
	ActionRefused:   "2c796125d4194c288f5a7520233537ec",
	CallAllowed:     "56210a75abdc491e965783a44f42c232",
	CallDenied:      "6c9f48e4594a437c8307a171f2ca1546",
	BreakerOpened:   "32a9a2c701a84e5e88dc485064eb9041",
	BreakerReset:    "e7af1a065ac04aa68edfc5e742a19e44",
	SettingChanged:  "6589892623a342f8bcd53f122e26c5c1",
	PredictionAlert: "c5ce7f5554774cad87c96f7cbbadf565",
	DaemonStarted:   "e6165d364cb0430ab5ef167a43ef7f6d",

	StoppedOnPurpose:   "d65c4bc41c104c34a1439d3ebe2f53be",
	SilenceAdded:       "a9f9f7d4bf29444697d33c136b69ed7f",
	SilenceEnded:       "60d7a1e011d74bfdb715a8e555892a46",
	RestartedBySystemd: "615be55e33a948aab399f2e2810f4da4",
}

// SyslogIdentifier is the journal's SYSLOG_IDENTIFIER of every entry.
const SyslogIdentifier = "luminous-healingd"

// Daemon is the CallerUID of the daemon's own, automatic decisions.
const Daemon = -1

// Entry is one audit record.
type Entry struct {
	Time       time.Time
	Event      Event
	Action     string // restart, cleanup, throttle, release; the D-Bus method for calls
	Target     string // a unit, or empty
	Issue      string
	Outcome    string // succeeded, failed, planned, refused, allowed, denied, …
	Message    string
	CallerUID  int64  // Daemon for automatic decisions
	Caller     string // the caller's unique bus name
	DryRun     bool
	Duration   time.Duration
	FreedBytes uint64
	// FreedByMount is what a cleanup freed per mount point.
	FreedByMount map[string]uint64
}

func (e Entry) priority() journal.Priority {
	switch e.Event {
	case ActionFailed, BreakerOpened:
		return journal.PriErr
	case IssueDetected, CallDenied, ActionRefused, PredictionAlert, RestartedBySystemd:
		return journal.PriWarning
	case ActionSucceeded, IssueResolved, SettingChanged, BreakerReset, StoppedOnPurpose, SilenceAdded, SilenceEnded:
		return journal.PriNotice
	}
	return journal.PriInfo
}

// Fields returns the journal fields of the entry.
func (e Entry) Fields() map[string]string {
	f := map[string]string{
		// Without it journald takes the command name, which the kernel
		// cuts to 15 characters ("luminous-healin"), and
		// `journalctl -t luminous-healingd` finds nothing.
		"SYSLOG_IDENTIFIER":  SyslogIdentifier,
		"MESSAGE_ID":         MessageIDs[e.Event],
		"HEALING_EVENT":      string(e.Event),
		"HEALING_CALLER_UID": strconv.FormatInt(e.CallerUID, 10),
	}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("HEALING_ACTION", e.Action)
	set("HEALING_TARGET", e.Target)
	set("HEALING_ISSUE", e.Issue)
	set("HEALING_OUTCOME", e.Outcome)
	set("HEALING_CALLER", e.Caller)
	if e.DryRun {
		f["HEALING_DRY_RUN"] = "1"
	}
	// The journal stamps an entry when it receives it, which is later
	// than the record when the journal fell behind the audit queue: the
	// record's own time travels with it.
	if !e.Time.IsZero() {
		f["HEALING_TIME_USEC"] = strconv.FormatInt(e.Time.UnixMicro(), 10)
	}
	if e.Duration > 0 {
		f["HEALING_DURATION_USEC"] = strconv.FormatInt(e.Duration.Microseconds(), 10)
	}
	if e.FreedBytes > 0 {
		f["HEALING_FREED_BYTES"] = strconv.FormatUint(e.FreedBytes, 10)
	}
	if len(e.FreedByMount) > 0 {
		// "/boot=1048576 /nix=5242880": one field, mounts sorted.
		parts := make([]string, 0, len(e.FreedByMount))
		for _, m := range slices.Sorted(maps.Keys(e.FreedByMount)) {
			parts = append(parts, m+"="+strconv.FormatUint(e.FreedByMount[m], 10))
		}
		f["HEALING_FREED_BY_MOUNT"] = strings.Join(parts, " ")
	}
	// journalctl -u nginx shows root's entries that carry OBJECT_SYSTEMD_UNIT.
	if strings.Contains(e.Target, ".") {
		f["OBJECT_SYSTEMD_UNIT"] = e.Target
	}
	return f
}

// Log is the audit log. It is safe for concurrent use.
type Log struct {
	log     *slog.Logger
	journal bool
	store   *state.Dir
	writer  *state.Writer

	mu   sync.Mutex
	ring []Entry // oldest first, at most size
	size int
	// denied holds the call-denied records apart, oldest first, at most
	// deniedSize: anyone on the bus can make the daemon deny calls, and
	// those records must never push out what others did. When it is full
	// the oldest record of the caller with the most records goes, so one
	// caller's flood also leaves other callers' denials in place.
	denied     []Entry
	deniedSize int
	dirty      bool
	flush      chan struct{}

	// out is what is still to be sent to the journal, oldest first, at
	// most JournalQueue entries. One sender goroutine at a time (sending)
	// writes it in order, outside every lock, and ends when it is empty;
	// idle is closed then (Wait). The engine records with its own lock
	// held: a journal that does not answer must hold up neither it nor
	// the D-Bus readers waiting on that lock.
	out     []queued
	sending bool
	idle    chan struct{}
	dropped atomic.Uint64
}

// JournalQueue bounds the entries waiting for a journal that does not keep
// up (a few hundred bytes each). An entry that finds the queue full is not
// sent to the journal; it stays in the history, and the journal is told
// how many were left out, at the place they were.
const JournalQueue = 256

// DroppedMessage is the line written to the journal where entries were
// left out because it did not keep up.
const DroppedMessage = "audit entries were not sent to the journal: it did not keep up; the history has them"

// queued is an entry waiting for the journal, and how many entries after it
// found the queue full.
type queued struct {
	e            Entry
	droppedAfter int
}

// historyFile is the history's name in the state directory.
const historyFile = "history.json"

// historyEvery is the least time between two writes of the history: a burst
// of records makes one write.
const historyEvery = 250 * time.Millisecond

// Options configure a Log.
type Options struct {
	Size  int        // entries kept; default 1000, plus a fifth of that for denied calls
	Store *state.Dir // nil: history is not persisted
	// Writer writes the history into Store, coalesced and off the
	// caller's path; without it Run and Flush do.
	Writer  *state.Writer
	Journal bool // send to the journal; otherwise entries go to Logger
	Logger  *slog.Logger
}

// New returns a Log, loading the persisted history. A corrupt history file
// is reported through the logger and replaced.
func New(o Options) *Log {
	if o.Size <= 0 {
		o.Size = 1000
	}
	l := &Log{log: o.Logger, journal: o.Journal, store: o.Store, size: o.Size, deniedSize: max(o.Size/5, 1), flush: make(chan struct{}, 1)}
	if o.Store != nil && o.Writer != nil {
		l.writer = o.Writer
		o.Writer.Register(historyFile, historyEvery, func() any {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.merged()
		})
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if o.Store != nil {
		var saved []Entry
		err := o.Store.Load(historyFile, &saved)
		switch {
		case err == nil:
			for _, e := range saved {
				l.add(e)
			}
		case errors.Is(err, os.ErrNotExist):
		default:
			l.log.Warn("history could not be read; starting a new one", "err", err)
		}
	}
	return l
}

// JournalAvailable reports whether the journal's socket is there.
func JournalAvailable() bool { return journal.Enabled() }

// Record adds e to the history and queues it for the journal (or the
// logger). It never waits for the journal: callers hold locks.
func (l *Log) Record(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Message == "" {
		e.Message = string(e.Event)
	}
	l.mu.Lock()
	l.add(e)
	l.dirty = true
	if len(l.out) < JournalQueue {
		l.out = append(l.out, queued{e: e})
	} else {
		l.out[len(l.out)-1].droppedAfter++
		l.dropped.Add(1)
	}
	start := !l.sending
	if start {
		l.sending = true
		l.idle = make(chan struct{})
	}
	l.mu.Unlock()
	if start {
		go l.send()
	}
	if l.writer != nil {
		l.writer.Changed(historyFile)
		return
	}
	select {
	case l.flush <- struct{}{}:
	default:
	}
}

// Dropped is how many entries were not sent to the journal because it did
// not keep up (JournalQueue).
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Wait waits until every entry recorded so far has been sent to the
// journal, or ctx ends.
func (l *Log) Wait(ctx context.Context) error {
	l.mu.Lock()
	idle := l.idle
	l.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send writes the queue to the journal in order until it is empty. It is
// the Log's goroutine: Record starts it when there is none, Wait joins it.
func (l *Log) send() {
	for {
		l.mu.Lock()
		if len(l.out) == 0 {
			l.out = nil
			l.sending = false
			close(l.idle)
			l.idle = nil
			l.mu.Unlock()
			return
		}
		q := l.out[0]
		l.out[0] = queued{}
		l.out = l.out[1:]
		l.mu.Unlock()
		l.write(q.e)
		if q.droppedAfter > 0 {
			l.log.Warn(DroppedMessage, "dropped", q.droppedAfter, "dropped_total", l.dropped.Load())
		}
	}
}

// write sends one entry to the journal, or the logger without one.
func (l *Log) write(e Entry) {
	if l.journal {
		if err := journal.Send(e.Message, e.priority(), e.Fields()); err != nil {
			l.log.Warn("could not write to the journal", "err", err)
		}
	} else {
		attrs := []any{"event", e.Event}
		for _, kv := range [][2]string{{"action", e.Action}, {"target", e.Target}, {"issue", e.Issue}, {"outcome", e.Outcome}, {"caller", e.Caller}} {
			if kv[1] != "" {
				attrs = append(attrs, kv[0], kv[1])
			}
		}
		if e.CallerUID != Daemon {
			attrs = append(attrs, "caller_uid", e.CallerUID)
		}
		l.log.Log(context.Background(), slogLevel(e.priority()), e.Message, attrs...)
	}
}

// add appends e to its ring, evicting as the rings' rules say. l.mu is held
// (or l is not shared yet).
func (l *Log) add(e Entry) {
	if e.Event != CallDenied {
		if len(l.ring) >= l.size {
			copy(l.ring, l.ring[1:])
			l.ring = l.ring[:l.size-1]
		}
		l.ring = append(l.ring, e)
		return
	}
	if len(l.denied) >= l.deniedSize {
		count := map[int64]int{}
		top := e.CallerUID
		for _, d := range l.denied {
			count[d.CallerUID]++
			if count[d.CallerUID] > count[top] {
				top = d.CallerUID
			}
		}
		i := slices.IndexFunc(l.denied, func(d Entry) bool { return d.CallerUID == top })
		if i < 0 {
			i = 0
		}
		l.denied = slices.Delete(l.denied, i, i+1)
	}
	l.denied = append(l.denied, e)
}

// merged returns both rings as one list, oldest first. l.mu is held.
func (l *Log) merged() []Entry {
	out := make([]Entry, 0, len(l.ring)+len(l.denied))
	i, j := 0, 0
	for i < len(l.ring) || j < len(l.denied) {
		if j >= len(l.denied) || (i < len(l.ring) && !l.ring[i].Time.After(l.denied[j].Time)) {
			out = append(out, l.ring[i])
			i++
		} else {
			out = append(out, l.denied[j])
			j++
		}
	}
	return out
}

func slogLevel(p journal.Priority) slog.Level {
	switch {
	case p <= journal.PriErr:
		return slog.LevelError
	case p == journal.PriWarning:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// History returns up to limit entries, newest first; limit 0 means all.
func (l *Log) History(limit int) []Entry {
	l.mu.Lock()
	all := l.merged()
	l.mu.Unlock()
	n := len(all)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]Entry, limit)
	for i := range limit {
		out[i] = all[n-1-i]
	}
	return out
}

// Run persists the history, at most every interval, until ctx ends; it then
// writes it a last time.
func (l *Log) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Flush(); err != nil {
				l.log.Warn("could not save the history", "err", err)
			}
			return
		case <-l.flush:
			select {
			case <-t.C:
			case <-ctx.Done():
				continue
			}
			if err := l.Flush(); err != nil {
				l.log.Warn("could not save the history", "err", err)
			}
		}
	}
}

// Flush writes the history to the state directory if it changed.
func (l *Log) Flush() error {
	if l.store == nil {
		return nil
	}
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return nil
	}
	snap := l.merged()
	l.dirty = false
	l.mu.Unlock()
	if err := l.store.Save(historyFile, snap); err != nil {
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		return fmt.Errorf("save history: %w", err)
	}
	return nil
}
