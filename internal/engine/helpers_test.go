package engine_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// A helper read asked for once Run's stop has begun (an operator call's
// poll reads the failed unit's journal on the D-Bus handler's goroutine)
// is not started: its WaitGroup.Add would race the stop's Wait, and the
// read would outlive the stop. It failed before: the read ran after Run
// had returned.
func TestNoHelperStartsOnceTheStopBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{})
		synctest.Wait()
		var ran atomic.Bool
		h.eng.GoHelper(func() { ran.Store(true) })
		synctest.Wait()
		if !ran.Load() {
			t.Fatal("a helper asked for while Run runs did not run")
		}
		ran.Store(false)
		h.stop()
		<-h.done
		h.eng.GoHelper(func() { ran.Store(true) })
		synctest.Wait()
		if ran.Load() {
			t.Fatal("a helper asked for after the stop ran; want it not started")
		}
	})
}
