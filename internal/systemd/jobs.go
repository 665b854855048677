package systemd

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// jobs starts systemd jobs and delivers their results from systemd's own
// JobRemoved signal only.
//
// go-systemd's job channel is not used: its JobRemoved match has no sender,
// and it takes the first JobRemoved naming the job's object path, which is
// predictable (/org/freedesktop/systemd1/job/N), from anyone. A user's
// broadcast JobRemoved(…, "failed") would become the result of the daemon's
// restart.
//
// No lock is held across a call to systemd: a slow systemd answering one
// caller must not hold up the others. A job can end, and its JobRemoved be
// dispatched, before the call that queued it has read its reply; while calls
// are in flight such results are kept (early) for the call to find.
//
// A waiter whose JobRemoved never comes (a signal lost with the bus, a
// systemd that restarted and forgot its jobs) is not kept forever: it goes
// when its caller stops waiting, and a waiter older than checkEvery is
// checked against systemd's GetJob; a job systemd no longer has, twice in
// a row, ended unseen, and its caller is told heal.JobUnknown. Once is not
// enough: systemd sends JobRemoved before it frees the job, so the first
// NoSuchJob may overtake the signal still on its way to run (in godbus's
// queue or in sigs); one checkEvery later it has long arrived. The
// connection closing tells every waiter the same.
type jobs struct {
	conn       *dbus.Conn
	owner      owner
	sigs       chan *dbus.Signal
	checkEvery time.Duration
	// refused counts JobRemoved signals dropped because systemd did not
	// send them.
	refused atomic.Uint64

	mu      sync.Mutex
	waiters map[dbus.ObjectPath]*waiter
	calling int                        // calls to systemd in flight
	early   map[dbus.ObjectPath]string // results no waiter took yet, while calling > 0
	order   []dbus.ObjectPath          // early's keys, oldest first
	closed  bool                       // the connection closed: no JobRemoved will come
}

// waiter is a caller waiting for one job's result.
type waiter struct {
	ch    chan<- string
	since time.Time
	stop  func() bool // ends the watch on the caller's context
	// gone is set when systemd last said it had no such job: the next
	// such answer ends the wait. Guarded by jobs.mu.
	gone bool
}

// maxEarly bounds the results kept for calls in flight: any job's
// JobRemoved reaches us, and a call's own comes right after its reply.
const maxEarly = 256

// jobCheckEvery is how long a job may run without its JobRemoved before
// systemd is asked whether it still has it, and how often.
var jobCheckEvery = 30 * time.Second

func newJobs(ctx context.Context, conn *dbus.Conn, checkEvery time.Duration) (*jobs, error) {
	j := &jobs{conn: conn, sigs: make(chan *dbus.Signal, 64), checkEvery: checkEvery,
		waiters: map[dbus.ObjectPath]*waiter{}, early: map[dbus.ObjectPath]string{}}
	conn.Signal(j.sigs)
	if err := j.owner.follow(ctx, conn); err != nil {
		return nil, err
	}
	err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchSender(busName), dbus.WithMatchObjectPath(managerPath),
		dbus.WithMatchInterface(managerIface), dbus.WithMatchMember("JobRemoved"))
	if err != nil {
		return nil, fmt.Errorf("add signal match: %w", err)
	}
	// Both goroutines end when the connection closes.
	done := make(chan struct{})
	go j.run(done)
	go j.check(done)
	return j, nil
}

// start calls a Manager method that queues a job (RestartUnit, StartUnit)
// and arranges for the job's result to be sent on ch, if ch is not nil.
func (j *jobs) start(ctx context.Context, method, unit, mode string, ch chan<- string) error {
	return j.call(ctx, ch, method, unit, mode)
}

// call calls the Manager method with args, which returns a job's path, and
// arranges for the job's result to be sent on ch, if ch is not nil, until
// ctx ends.
func (j *jobs) call(ctx context.Context, ch chan<- string, method string, args ...any) error {
	j.mu.Lock()
	j.calling++
	j.mu.Unlock()
	var job dbus.ObjectPath
	err := j.conn.Object(busName, managerPath).CallWithContext(ctx, managerIface+"."+method, 0, args...).Store(&job)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calling--
	result, ended := j.early[job]
	if j.calling == 0 {
		clear(j.early)
		j.order = j.order[:0]
	}
	if err != nil || ch == nil {
		return err
	}
	switch {
	case ended:
		delete(j.early, job)
	case j.closed:
		result, ended = heal.JobUnknown, true
	}
	if ended {
		deliver(ch, result)
		return nil
	}
	w := &waiter{ch: ch, since: time.Now()}
	w.stop = context.AfterFunc(ctx, func() {
		j.mu.Lock()
		if j.waiters[job] == w {
			delete(j.waiters, job)
		}
		j.mu.Unlock()
	})
	j.waiters[job] = w
	return nil
}

// deliver sends result on ch without waiting: the caller gave a buffered
// channel, or is waiting no more.
func deliver(ch chan<- string, result string) {
	select {
	case ch <- result:
	default:
	}
}

// take removes job's waiter and tells it result; with no waiter, the
// result is kept for a call in flight. j.mu is held.
func (j *jobs) takeLocked(job dbus.ObjectPath, result string) {
	if w, ok := j.waiters[job]; ok {
		delete(j.waiters, job)
		w.stop()
		deliver(w.ch, result)
		return
	}
	if j.calling == 0 {
		return
	}
	if len(j.order) >= maxEarly {
		delete(j.early, j.order[0])
		j.order = j.order[1:]
	}
	j.early[job] = result
	j.order = append(j.order, job)
}

// run dispatches signals until the connection closes, then tells every
// waiter left that its job's result will not come.
func (j *jobs) run(done chan<- struct{}) {
	defer close(done)
	for s := range j.sigs {
		if _, ok := j.owner.ownerChange(s); ok {
			continue
		}
		if s.Name != managerIface+".JobRemoved" {
			continue
		}
		if !j.owner.fromSystemd(s) || s.Path != managerPath {
			// Counted, not logged: the watcher already says once that
			// someone forges systemd's signals.
			j.refused.Add(1)
			continue
		}
		var id uint32
		var job dbus.ObjectPath
		var unit, result string
		if dbus.Store(s.Body, &id, &job, &unit, &result) != nil {
			continue
		}
		j.mu.Lock()
		j.takeLocked(job, result)
		j.mu.Unlock()
	}
	j.mu.Lock()
	j.closed = true
	for job := range j.waiters {
		j.takeLocked(job, heal.JobUnknown)
	}
	j.mu.Unlock()
}

// check asks systemd, every checkEvery, about the jobs waited for longer
// than that, until done closes. A job systemd says it has no more ends its
// wait on the second such answer in a row (see jobs).
func (j *jobs) check(done <-chan struct{}) {
	t := time.NewTicker(j.checkEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		old := map[dbus.ObjectPath]*waiter{}
		j.mu.Lock()
		for job, w := range j.waiters {
			if time.Since(w.since) >= j.checkEvery {
				old[job] = w
			}
		}
		j.mu.Unlock()
		for job, w := range old {
			gone := j.gone(job)
			j.mu.Lock()
			// The waiter may have had its result, or given up, meanwhile.
			if j.waiters[job] == w {
				if gone && w.gone {
					j.takeLocked(job, heal.JobUnknown)
				}
				w.gone = gone
			}
			j.mu.Unlock()
		}
	}
}

// gone reports whether systemd says it has no such job. Any other answer,
// or none, keeps the waiter: systemd may be busy or restarting.
func (j *jobs) gone(job dbus.ObjectPath) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := strconv.ParseUint(path.Base(string(job)), 10, 32)
	if err != nil {
		return false
	}
	var p dbus.ObjectPath
	err = j.conn.Object(busName, managerPath).CallWithContext(ctx, managerIface+".GetJob", 0, uint32(n)).Store(&p)
	var de dbus.Error
	return errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchJob"
}
