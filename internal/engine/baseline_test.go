package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
)

// lateCounter is fake systemd whose NRestarts answers late, as a busy
// systemd does: the reply comes a while after the caller gave up.
type lateCounter struct {
	*healtest.Systemd
	inside atomic.Int32
}

func (l *lateCounter) NRestarts(ctx context.Context, name string) (uint32, bool, error) {
	l.inside.Add(1)
	defer l.inside.Add(-1)
	<-ctx.Done()
	time.Sleep(200 * time.Millisecond)
	return 0, false, ctx.Err()
}

// The read of the running units' restart counts at start-up has an owner:
// a stop waits for it. It failed before: sweepUnits started it as a bare
// goroutine, still inside systemd's call after Run had returned.
func TestAStopWaitsForTheRestartCountReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var late *lateCounter
		e := enginetest.New(t, enginetest.Setup{
			Units: []heal.UnitStatus{active("web.service")}, Self: "luminous-healing.service",
			Options: func(o *engine.Options) {
				late = &lateCounter{Systemd: o.Units.(*healtest.Systemd)}
				o.Units = late
			},
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := e.Start(ctx)
		synctest.Wait()
		if late.inside.Load() != 1 {
			t.Fatalf("reads of the restart count running = %d; want 1 (the start-up read)", late.inside.Load())
		}
		cancel()
		<-done
		if n := late.inside.Load(); n != 0 {
			t.Errorf("reads of the restart count still running after Run returned = %d; want 0", n)
		}
		time.Sleep(time.Second) // a read left behind ends before the bubble does

	})
}
