// Package engine is the daemon's core: it samples resources, follows the
// monitored units' state, opens and clears issues, drives healing through
// internal/heal, runs prediction, and keeps the state every transport reads.
//
// Transports (the D-Bus server, the HTTP listener, metrics) import engine;
// engine imports the leaf packages and adapters and nothing above them.
// Authorization is not decided here: transports authorize before calling the
// operator methods, which take the Caller for the audit record.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/silence"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// Sampler takes one pass over the machine's resources (detect.Sampler).
type Sampler interface {
	Sample(ctx context.Context, snap *detect.Snapshot) error
	Mounts() []string
	Close() error
}

// Units reads one unit's state (systemd.Manager).
type Units interface {
	Unit(ctx context.Context, name string) (heal.UnitStatus, error)
}

// Watcher reports the monitored units' state changes (systemd.Watcher).
type Watcher interface {
	Watch(ctx context.Context, units []string) error
	Events() <-chan systemd.Event
}

// Recorder receives measurements as they happen (internal/metrics). Its
// methods are called without the engine's lock held and must not block.
type Recorder interface {
	// Checked follows every monitoring pass: when it sampled, how long
	// sampling and evaluation took, the readings and the thresholds in
	// force (0 = off).
	Checked(at time.Time, took time.Duration, readings []detect.Reading, thresholds map[issue.Kind]float64)
	IssueDetected(rec issue.Record)
	IssueResolved(rec issue.Record, open time.Duration)
	ActionDone(res heal.Result)
	// RestartedBySystemd counts n restarts systemd did by itself
	// (Restart=) of a monitored unit.
	RestartedBySystemd(unit string, n int)
	// Relapsed counts an issue that came back after a successful
	// action, and whether that action had held for the stability period.
	Relapsed(kind issue.Kind, held bool)
	Forecasts(fs []predict.Forecast)
	// State follows every rebuild of the status, so that what it reports
	// is right whichever path changed it: a restored breaker, a reset, a
	// unit recovering, a reload.
	State(dryRun, healingEnabled bool, interval time.Duration, issues []issue.Record, breakers []heal.BreakerState)
}

// Options wire an Engine. Only Config, Healer and Audit are required.
type Options struct {
	Version    string
	Mode       string // "system", or "user" for the no-root try-it mode
	ConfigPath string // "" when running on the embedded default
	Config     *config.Config
	Log        *slog.Logger

	// NewSampler builds the sampler for a configuration; it is called again
	// on reload when the mounts change.
	NewSampler func(c *config.Config) (Sampler, error)
	Healer     *heal.Healer
	Units      Units   // nil without systemd
	Watcher    Watcher // nil without systemd
	Journal    Journal // nil: a unit's cause has no journal lines
	Audit      *audit.Log
	State      *state.Dir // nil: nothing persisted
	// Writer writes the state directory's files; the engine runs it and
	// registers state.json on it. nil with State set: the engine makes
	// its own for State. Others (the history, the series) register their
	// files on the same writer before Run.
	Writer    *state.Writer
	Predictor *predict.Predictor
	Recorder  Recorder
	// ProbeRunner runs command probes in transient units (systemd.Manager);
	// nil: command probes fail, saying why.
	ProbeRunner probe.CommandRunner
	// ForceDryRun keeps dry-run on whatever callers ask (try-it mode).
	ForceDryRun bool
	// Amend is applied to every configuration Reload reads, so the
	// daemon's command-line overrides (--interval, --listen) outlive it.
	Amend func(*config.Config)
}

// Engine is the daemon's core. Create it with New and start it with Run.
type Engine struct {
	o     Options
	log   *slog.Logger
	heal  *heal.Healer
	start time.Time
	w     *state.Writer // nil: nothing persisted

	mu        sync.Mutex
	cfg       *config.Config
	sampler   Sampler
	eval      *detect.Evaluator
	snap      detect.Snapshot
	changes   []detect.Change
	lastCheck time.Time
	issues    map[string]*issue.Record
	said      map[string]issue.State // the state each issue was last announced in (announce.go)
	units     map[string]*unitState
	enabled   bool
	over      overrides
	inflight  map[string]bool         // issue ids with an automatic action running
	running   map[string]heal.Request // the same, with what each runs, for the stop's record
	stopping  bool                    // Run is stopping: no new automatic action
	quit      chan struct{}           // closed when Run has returned: late results are dropped
	turn      chan struct{}           // closed when the last launched action passed the limit (launchLocked)
	helpers   sync.WaitGroup          // short reads Run started (goHelper); a stop waits for them
	admitting atomic.Int32            // actions launched that have not reached the global limit yet
	retry     map[string]time.Time    // issue id → when to try healing again
	recheck   map[string]time.Time    // unit → when to read its state again
	// justRead is the unit applyUnit read back from systemd while it
	// decides its issue: a restart launched then plans on that read
	// instead of a second one (heal.Request.Unit). Nil otherwise.
	justRead *heal.UnitStatus
	foreseen map[string]*foresight // series predicted to cross within the horizon
	healed   map[string]time.Time  // issue id → when its action succeeded
	// lastHealed outlives the issue: when it comes back, the history says
	// how long the last success held.
	lastHealed map[string]time.Time
	refused    map[string]string      // action id without an issue → its last refusal
	silences   []silence.Silence      // the operator's, persisted in silences.json
	windows    []*window              // maintenance windows from the configuration
	probes     map[string]*probeState // unit → its health probe (probes.go)
	probeSem   chan struct{}          // the global cap on probes running at once
	sampleErr  string
	lastSweep  time.Time // the last read of every monitored unit (sweepUnits)
	names      []string  // e.units' names, sorted; nil when to be rebuilt (sortedUnitsLocked)

	// releaseAtStart are units whose restored throttles the policy now
	// bars; Run releases them.
	releaseAtStart []string

	// statusMu makes building and storing the status one step, so that
	// a status built from older state never replaces a newer one. It is
	// taken before mu.
	statusMu sync.Mutex
	status   atomic.Pointer[Status]
	subs     subscribers
	results  chan done
	kick     chan struct{}
	ping     chan chan struct{}
	ctx      context.Context // Run's context, for automatic actions
}

type done struct {
	id  string
	res heal.Result
}

type unitState struct {
	active, sub string
	load        string // LoadState at the last full read
	known       bool
	// stopRequested: a stop job took the unit down (at stoppedAt, a job of
	// type stopJob where known); it is left down until it runs again.
	stopRequested bool
	stoppedAt     time.Time
	stopJob       string
	// stopInvocation is the InvocationID of the run the stop took down,
	// "" until read: a unit read back with another one was started again,
	// even if it has already failed (applyUnit).
	stopInvocation string
	downSince      time.Time // when it was first seen inactive; zero otherwise
	// nRestarts is systemd's NRestarts at the last look, once seen.
	nRestarts    uint32
	haveRestarts bool
	readingCause bool         // a journal read for its cause is running
	spell        restartSpell // its restarts-by-systemd records (flood.go)
	lastRead     time.Time    // the last read-back on an event (unitEvent)
	// activeSince is when the daemon saw it become active, for a probe's
	// start-up grace; zero when it was active at the first look.
	activeSince time.Time
}

// Auto is the Caller of the daemon's own decisions.
var Auto = Caller{UID: audit.Daemon, Name: "luminous-healingd"}

// Caller identifies who asked for an operation, for the audit record.
type Caller struct {
	UID  int64
	Name string // unique bus name
}

// New validates the wiring, restores persisted state and returns an Engine.
func New(o Options) (*Engine, error) {
	if o.Config == nil || o.Healer == nil || o.Audit == nil || o.NewSampler == nil {
		return nil, errors.New("engine: Config, Healer, Audit and NewSampler are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Mode == "" {
		o.Mode = "system"
	}
	s, err := o.NewSampler(o.Config)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		o:          o,
		log:        o.Log,
		heal:       o.Healer,
		start:      time.Now(),
		cfg:        o.Config,
		sampler:    s,
		issues:     map[string]*issue.Record{},
		said:       map[string]issue.State{},
		units:      map[string]*unitState{},
		inflight:   map[string]bool{},
		running:    map[string]heal.Request{},
		retry:      map[string]time.Time{},
		recheck:    map[string]time.Time{},
		foreseen:   map[string]*foresight{},
		healed:     map[string]time.Time{},
		lastHealed: map[string]time.Time{},
		refused:    map[string]string{},
		probes:     map[string]*probeState{},
		probeSem:   make(chan struct{}, maxProbes),
		results:    make(chan done, 64),
		kick:       make(chan struct{}, 1),
		ping:       make(chan chan struct{}),
		ctx:        context.Background(),
	}
	e.w = o.Writer
	if e.w == nil && o.State != nil {
		e.w = state.NewWriter(o.State, o.Log)
	}
	e.restore()
	e.restoreSilences()
	if e.w != nil {
		e.w.Register(stateFile, stateEvery, e.snapshotState)
		e.w.Register(silenceFile, silenceEvery, e.snapshotSilences)
		if o.Predictor != nil {
			o.Predictor.Persist(e.w)
		}
	}
	e.applyConfigLocked()
	e.publishStatus()
	return e, nil
}

// applyConfigLocked pushes e.cfg and the runtime overrides into the
// evaluator, healer and flags. Callers hold e.mu (or own e exclusively).
func (e *Engine) applyConfigLocked() {
	c := e.cfg
	e.enabled = c.Healing.Enabled
	dry := c.Healing.DryRun || e.o.ForceDryRun
	if e.over.HealingEnabled != nil {
		e.enabled = *e.over.HealingEnabled
	}
	if e.over.DryRun != nil && !e.o.ForceDryRun {
		dry = *e.over.DryRun
	}
	e.heal.SetDryRun(dry)
	settings := detect.Settings{Thresholds: e.thresholdsLocked(), For: c.Monitoring.For, Margin: c.Monitoring.Margin}
	if e.eval == nil {
		e.eval = detect.NewEvaluator(settings)
	} else {
		e.eval.SetSettings(settings)
	}
	e.applyWindowsLocked()
	e.applyProbesLocked()
	for _, u := range c.Services.Monitored {
		if _, ok := e.units[u]; !ok {
			e.units[u] = &unitState{}
			e.names = nil
		}
	}
	for u := range e.units {
		if !slices.Contains(c.Services.Monitored, u) {
			delete(e.units, u)
			e.names = nil
		}
	}
}

// thresholdsLocked is the configuration's thresholds with the runtime
// overrides applied.
func (e *Engine) thresholdsLocked() map[issue.Kind]float64 {
	t := e.cfg.Thresholds
	m := map[issue.Kind]float64{
		issue.CPU: t.CPU, issue.Memory: t.Memory, issue.Disk: t.Disk,
		issue.Load: t.LoadAverage, issue.Pressure: t.Pressure,
	}
	for k, v := range e.over.Thresholds {
		m[k] = v
	}
	return m
}

// Run samples every monitoring.interval and follows unit events until ctx
// ends. It returns nil on a clean stop.
func (e *Engine) Run(ctx context.Context) error {
	// Automatic actions get a context of their own: a stop lets the ones
	// in flight finish, for a while, so that their outcome is recorded
	// rather than cut off (settleActions).
	actx, cancelActions := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelActions()
	quit := make(chan struct{})
	defer close(quit)
	e.mu.Lock()
	e.ctx = actx
	e.quit = quit
	e.stopping = false
	interval := e.cfg.Monitoring.Interval.D()
	e.mu.Unlock()

	stopWriter := e.runWriter(ctx)
	var unitEvents <-chan systemd.Event
	if e.o.Watcher != nil {
		if err := e.o.Watcher.Watch(ctx, e.Monitored()); err != nil {
			e.log.Warn("could not watch the monitored units; polling them instead", "err", err)
		}
		unitEvents = e.o.Watcher.Events()
	}
	e.o.Audit.Record(audit.Entry{Event: audit.DaemonStarted, CallerUID: audit.Daemon,
		Message: fmt.Sprintf("luminous-healingd %s started in %s mode", e.o.Version, e.o.Mode)})
	// Throttles restored on units the policy now bars (restore) are
	// released once, now that actions can run.
	e.mu.Lock()
	release := e.releaseAtStart
	e.releaseAtStart = nil
	e.mu.Unlock()
	for _, u := range release {
		e.releaseAsync(u)
	}

	// Prime the CPU counters so the first check has a delta to report.
	e.sample(ctx)
	// One batched read of every unit's state; only those not running are
	// read in full. A running unit's restart count is first read on its
	// first event, which comes before any restart systemd makes.
	e.sweepUnits(ctx, true)
	e.publishStatus()
	stopProbes := e.startProbes(ctx)
	defer func() { stopProbes() }()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		e.armRetry(retry)
		select {
		case <-ctx.Done():
			e.settleActions(cancelActions)
			cancelActions()
			e.waitHelpers()
			// What changed last is written once more, outside the lock.
			e.stateChanged()
			stopWriter()
			e.mu.Lock()
			e.sampler.Close()
			e.mu.Unlock()
			return nil
		case <-ticker.C:
			e.check(ctx)
		case ev := <-unitEvents:
			e.unitEvent(ctx, ev)
		case d := <-e.results:
			e.finished(d.id, d.res, Auto)
		case <-retry.C:
			e.retryDue(ctx)
		case reply := <-e.ping:
			close(reply)
		case <-e.kick:
			e.mu.Lock()
			next := e.cfg.Monitoring.Interval.D()
			e.mu.Unlock()
			if next != interval {
				interval = next
				ticker.Reset(interval)
			}
			// The probes may have changed: they start again.
			stopProbes()
			stopProbes = e.startProbes(ctx)
			if e.o.Watcher != nil {
				if err := e.o.Watcher.Watch(ctx, e.Monitored()); err != nil {
					e.log.Warn("could not watch the monitored units", "err", err)
				}
			}
		}
	}
}

// Alive reports whether Run's loop answers within timeout; the systemd
// watchdog is fed only while it does.
func (e *Engine) Alive(ctx context.Context, timeout time.Duration) bool {
	reply := make(chan struct{})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case e.ping <- reply:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-t.C:
		return false
	}
}

// armRetry sets t to fire at the earliest pending retry.
func (e *Engine) armRetry(t *time.Timer) {
	e.mu.Lock()
	var next time.Time
	for _, m := range []map[string]time.Time{e.retry, e.recheck} {
		for _, at := range m {
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	if at := e.nextSilenceChangeLocked(time.Now()); !at.IsZero() && (next.IsZero() || at.Before(next)) {
		next = at
	}
	e.mu.Unlock()
	d := time.Hour
	if !next.IsZero() {
		d = max(time.Until(next), 0)
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// Monitored returns the monitored units, sorted.
func (e *Engine) Monitored() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(func(yield func(string) bool) {
		for u := range e.units {
			if !yield(u) {
				return
			}
		}
	})
}

// Mounts returns the mounts being watched.
func (e *Engine) Mounts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sampler.Mounts()
}

// Config returns the configuration in force.
func (e *Engine) Config() *config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Scores returns the recorded forecasts, pending ones first, then the
// latest scored or voided, newest first; nil without prediction. The
// running totals are Status().Accuracy.
func (e *Engine) Scores() []predict.Score {
	if e.o.Predictor == nil {
		return nil
	}
	return e.o.Predictor.Scores()
}

// Series returns a resource series' recent points, for sparklines.
func (e *Engine) Series(id string) []predict.Point {
	if e.o.Predictor == nil {
		return nil
	}
	return e.o.Predictor.Series(id)
}

func (e *Engine) hostname() string {
	h, _ := os.Hostname()
	return h
}
