package systemd

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/godbus/dbus/v5"
)

// jobs starts systemd jobs and delivers their results from systemd's own
// JobRemoved signal only.
//
// go-systemd's job channel is not used: its JobRemoved match has no sender,
// and it takes the first JobRemoved naming the job's object path, which is
// predictable (/org/freedesktop/systemd1/job/N), from anyone. A user's
// broadcast JobRemoved(…, "failed") would become the result of the daemon's
// restart.
type jobs struct {
	conn  *dbus.Conn
	owner owner
	sigs  chan *dbus.Signal
	// refused counts JobRemoved signals dropped because systemd did not
	// send them.
	refused atomic.Uint64

	// mu is held from the call that creates a job until its waiter is
	// registered, so the job's JobRemoved cannot be dispatched in between.
	mu      sync.Mutex
	waiters map[dbus.ObjectPath]chan<- string
}

func newJobs(ctx context.Context, conn *dbus.Conn) (*jobs, error) {
	j := &jobs{conn: conn, sigs: make(chan *dbus.Signal, 64), waiters: map[dbus.ObjectPath]chan<- string{}}
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
	go j.run()
	return j, nil
}

// start calls a Manager method that queues a job (RestartUnit, StartUnit)
// and arranges for the job's result to be sent on ch, if ch is not nil.
func (j *jobs) start(ctx context.Context, method, unit, mode string, ch chan<- string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var job dbus.ObjectPath
	if err := j.conn.Object(busName, managerPath).CallWithContext(ctx, managerIface+"."+method, 0, unit, mode).Store(&job); err != nil {
		return err
	}
	if ch != nil {
		j.waiters[job] = ch
	}
	return nil
}

// run dispatches signals until the connection closes.
func (j *jobs) run() {
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
		ch, ok := j.waiters[job]
		delete(j.waiters, job)
		j.mu.Unlock()
		if ok {
			select {
			case ch <- result:
			default: // the caller gave a full channel; it is waiting no more
			}
		}
	}
}
