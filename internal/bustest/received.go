package bustest

import (
	"slices"
	"sync"
)

// received keeps what a fake was sent, in order of arrival, and relays each
// item as it arrives to the channels that asked for it. Sends do not block:
// an item that does not fit in a channel is not relayed there. It has a
// lock of its own, so that a test may read it while the fake is busy.
type received[T any] struct {
	mu    sync.Mutex
	items []T
	relay []chan<- T
}

func (r *received[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
	for _, ch := range r.relay {
		select {
		case ch <- v:
		default:
		}
	}
}

// all returns a copy of the items so far; items that hold maps share them.
func (r *received[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

func (r *received[T]) notify(ch chan<- T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.relay = append(r.relay, ch)
}
