package client

import "context"

// Follow dials as Dial does, with NoAutoStart set, and subscribes to the
// daemon's signals (Watch): the start of a long-running client, such as
// a dashboard or a notifier, that watches the daemon and never starts it
// through bus activation. The caller closes the Client; the channel closes
// with its connection.
func Follow(ctx context.Context, opts Options) (*Client, <-chan Event, error) {
	opts.NoAutoStart = true
	cl, err := Dial(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	events, err := cl.Watch(ctx)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, events, nil
}
