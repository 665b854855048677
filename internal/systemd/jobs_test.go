package systemd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// stuckSystemd stands in for systemd on the private bus (real systemd
// cannot run there): RestartUnit of slow.service is not answered until
// the test lets it go, as a systemd busy with something else; a job of
// lost.service never gets its JobRemoved, and GetJob says systemd no
// longer has it, as after a signal lost with the bus or a systemd that
// restarted and forgot its jobs; a job of late.service has its JobRemoved
// sent only after GetJob's first NoSuchJob answer, as when the signal
// systemd sent before freeing the job is still in the daemon's queues as
// the answer arrives; other jobs end at once, their JobRemoved sent before
// the reply, as systemd may.
type stuckSystemd struct {
	conn     *dbus.Conn
	hold     chan struct{}
	holding  chan struct{}
	once     sync.Once
	lateOnce sync.Once
}

func (s *stuckSystemd) Subscribe() *dbus.Error { return nil }

func (s *stuckSystemd) job(id uint32, name string) (dbus.ObjectPath, *dbus.Error) {
	path := jobPath(id)
	switch name {
	case "slow.service":
		s.once.Do(func() { close(s.holding) })
		<-s.hold
	case "lost.service", "late.service":
	default:
		if err := s.conn.Emit(managerPath, managerIface+".JobRemoved", id, path, name, "done"); err != nil {
			return "", dbus.MakeFailedError(err)
		}
	}
	return path, nil
}

func (s *stuckSystemd) RestartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	switch name {
	case "lost.service":
		return s.job(3, name)
	case "late.service":
		return s.job(4, name)
	}
	return s.job(1, name)
}

func (s *stuckSystemd) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return s.job(2, name)
}

func (s *stuckSystemd) GetJob(id uint32) (dbus.ObjectPath, *dbus.Error) {
	switch id {
	case 3:
		return "", noSuchJob(id)
	case 4:
		// The JobRemoved comes once the answer is on its way.
		s.lateOnce.Do(func() {
			time.AfterFunc(20*time.Millisecond, func() {
				_ = s.conn.Emit(managerPath, managerIface+".JobRemoved", id, jobPath(id), "late.service", "done")
			})
		})
		return "", noSuchJob(id)
	}
	return jobPath(id), nil
}

func noSuchJob(id uint32) *dbus.Error {
	return &dbus.Error{Name: "org.freedesktop.systemd1.NoSuchJob", Body: []any{fmt.Sprintf("Job %d does not exist.", id)}}
}

func jobPath(id uint32) dbus.ObjectPath {
	return dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
}

func startStuckSystemd(t *testing.T, b *bustest.Bus) *stuckSystemd {
	t.Helper()
	conn := b.Conn(t)
	s := &stuckSystemd{conn: conn, hold: make(chan struct{}), holding: make(chan struct{})}
	t.Cleanup(func() { close(s.hold) })
	claimSystemd(t, conn, s)
	return s
}

func result(t *testing.T, ch <-chan string, within time.Duration) string {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("no job result within %s", within)
		return ""
	}
}

// A systemd slow to answer one job's call holds up no other job. It
// failed before: the manager held its lock across the call, so the start
// of quick.service waited for the restart of slow.service.
func TestASlowJobCallHoldsUpNoOtherJob(t *testing.T) {
	b := bustest.Start(t)
	sysd := startStuckSystemd(t, b)
	m, err := Dial(t.Context(), b.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	go m.Restart(t.Context(), "slow.service", make(chan string, 1))
	<-sysd.holding
	ch := make(chan string, 1)
	started := make(chan error, 1)
	go func() { started <- m.Start(t.Context(), "quick.service", ch) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("starting quick.service waited for systemd's answer about slow.service")
	}
	// Its JobRemoved came before the call's reply: still its result.
	if got := result(t, ch, 5*time.Second); got != "done" {
		t.Errorf("quick.service's job result = %q; want done", got)
	}
}

// A job whose JobRemoved never comes is not waited for forever, nor kept:
// once systemd says it no longer has the job, the caller is told the
// result is unknown and the waiter goes; the same when the connection
// closes; and a waiter whose caller gave up goes at once. Each failed
// before: the waiter stayed, and the caller waited until its context
// ended.
func TestAJobWhoseResultNeverComesIsNotWaitedForForever(t *testing.T) {
	b := bustest.Start(t)
	startStuckSystemd(t, b)
	// dial connects a manager that asks systemd about a job once it has
	// waited every for its JobRemoved.
	dial := func(t *testing.T, every time.Duration) (*Manager, func() int) {
		defer func(d time.Duration) { jobCheckEvery = d }(jobCheckEvery)
		jobCheckEvery = every
		m, err := Dial(t.Context(), b.Address)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return m, func() int {
			m.jobs.mu.Lock()
			defer m.jobs.mu.Unlock()
			return len(m.jobs.waiters)
		}
	}

	t.Run("systemd no longer has the job", func(t *testing.T) {
		m, waiters := dial(t, 100*time.Millisecond)
		ch := make(chan string, 1)
		if err := m.Restart(t.Context(), "lost.service", ch); err != nil {
			t.Fatal(err)
		}
		if got := result(t, ch, 5*time.Second); got != heal.JobUnknown {
			t.Errorf("result = %q; want %q", got, heal.JobUnknown)
		}
		if n := waiters(); n != 0 {
			t.Errorf("waiters left = %d; want 0", n)
		}
	})
	t.Run("the caller stopped waiting", func(t *testing.T) {
		m, waiters := dial(t, time.Hour) // only the caller's context can end it
		ctx, cancel := context.WithCancel(t.Context())
		if err := m.Restart(ctx, "lost.service", make(chan string, 1)); err != nil {
			t.Fatal(err)
		}
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for waiters() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("waiters left = %d after the caller gave up; want 0", waiters())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("the connection closed", func(t *testing.T) {
		m, waiters := dial(t, time.Hour)
		ch := make(chan string, 1)
		if err := m.Restart(t.Context(), "lost.service", ch); err != nil {
			t.Fatal(err)
		}
		m.jobConn.Close()
		if got := result(t, ch, 5*time.Second); got != heal.JobUnknown {
			t.Errorf("result = %q; want %q", got, heal.JobUnknown)
		}
		if n := waiters(); n != 0 {
			t.Errorf("waiters left = %d; want 0", n)
		}
	})
}

// A job's JobRemoved that reaches the daemon after systemd's NoSuchJob
// answer to GetJob still gives the job its real result: systemd sends the
// signal before it frees the job, so the first NoSuchJob can overtake the
// signal on its way through godbus's queue and the manager's channel. On a
// private dbus-daemon with a stand-in for systemd that sends the signal
// just after its first NoSuchJob answer. It failed before: the first
// NoSuchJob told the caller heal.JobUnknown, and the real result was
// dropped.
func TestAJobRemovedBehindNoSuchJobStillGivesItsResult(t *testing.T) {
	b := bustest.Start(t)
	startStuckSystemd(t, b)
	defer func(d time.Duration) { jobCheckEvery = d }(jobCheckEvery)
	// Far longer than the signal's delay, so that only the rule (two
	// NoSuchJob in a row), not the machine's load, decides.
	jobCheckEvery = 500 * time.Millisecond
	m, err := Dial(t.Context(), b.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ch := make(chan string, 1)
	if err := m.Restart(t.Context(), "late.service", ch); err != nil {
		t.Fatal(err)
	}
	if got := result(t, ch, 10*time.Second); got != "done" {
		t.Errorf("result = %q; want done, from the JobRemoved that came after NoSuchJob", got)
	}
}
