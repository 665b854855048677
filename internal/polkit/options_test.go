package polkit

import (
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Options
		want Options
	}{
		{
			name: "zero options take the defaults: 5 s, 25 s for a password prompt, 2 s to cancel",
			in:   Options{},
			want: Options{Timeout: 5 * time.Second, InteractiveTimeout: 25 * time.Second, CancelTimeout: 2 * time.Second},
		},
		{
			name: "negative durations take the defaults",
			in:   Options{Timeout: -1, InteractiveTimeout: -1, CancelTimeout: -1},
			want: Options{Timeout: 5 * time.Second, InteractiveTimeout: 25 * time.Second, CancelTimeout: 2 * time.Second},
		},
		{
			name: "set durations are kept",
			in:   Options{Timeout: time.Second, InteractiveTimeout: time.Minute, CancelTimeout: time.Millisecond},
			want: Options{Timeout: time.Second, InteractiveTimeout: time.Minute, CancelTimeout: time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}
