package heal_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// The fake's Host is cgroup-like: the machine's busy CPU time and memory in
// use, and the cgroups outside system services (user-UID.slice, init.scope)
// with their own accounting. Rates are per second of watching; one core
// busy is 1e9 ns per second.
func TestThrottleTargetsOnlyAServiceThatCausesTheLoad(t *testing.T) {
	const core = uint64(time.Second)
	type svc struct {
		name      string
		cpuPerSec uint64
		mem       uint64
	}
	tests := []struct {
		name     string
		rec      issue.Record
		services []svc
		groups   []svc // user slices, scopes
		busy     uint64
		memUsed  uint64
		// want is the unit throttled; "" means nothing is, and the
		// refusal says where the load is: every string in says.
		want string
		says []string
	}{
		{
			name:     "a CPU hog beside busy user shells is throttled, not a bystander",
			rec:      issue.Record{ID: "cpu", Kind: issue.CPU, Severity: issue.Warning},
			services: []svc{{"hog.service", 9 * core / 10, 8 << 20}, {"crashy.service", core / 1000, 196 << 10}},
			groups:   []svc{{"user-1000.slice", 8 * core / 10, 50 << 20}},
			busy:     18 * core / 10,
			want:     "hog.service",
		},
		{
			name:     "only user shells busy: no service is throttled, and the issue says where the load is",
			rec:      issue.Record{ID: "cpu", Kind: issue.CPU, Severity: issue.Warning},
			services: []svc{{"crashy.service", core / 1000, 196 << 10}, {"earlyoom.service", 0, 2 << 20}},
			groups:   []svc{{"user-1000.slice", 19 * core / 10, 60 << 20}, {"init.scope", core / 100, 10 << 20}},
			busy:     195 * core / 100,
			says:     []string{"CPU load is in user-1000.slice, not a service", "crashy.service"},
		},
		{
			name:     "load no cgroup carries is the kernel's: nothing is throttled",
			rec:      issue.Record{ID: "pressure:cpu", Kind: issue.Pressure, Subject: "cpu", Severity: issue.Warning},
			services: []svc{{"crashy.service", core / 50, 196 << 10}},
			groups:   []svc{{"user-1000.slice", core / 50, 60 << 20}},
			busy:     19 * core / 10,
			says:     []string{"kernel"},
		},
		{
			name:     "a service with a few percent of one core is never throttled, even on an idle machine",
			rec:      issue.Record{ID: "cpu", Kind: issue.CPU, Severity: issue.Warning},
			services: []svc{{"crashy.service", core / 50, 196 << 10}},
			busy:     core / 25,
			says:     []string{"CPU load is small", "crashy.service", "2% of one CPU"},
		},
		{
			name:     "a hog that gets a small slice of a core on a loaded host is still throttled: it causes most of the load",
			rec:      issue.Record{ID: "cpu", Kind: issue.CPU, Severity: issue.Warning},
			services: []svc{{"hog.service", core / 10, 8 << 20}, {"crashy.service", core / 1000, 196 << 10}},
			groups:   []svc{{"user-1000.slice", core / 50, 50 << 20}},
			busy:     core / 8,
			want:     "hog.service",
		},
		{
			name:     "memory held by a user session: nothing is throttled",
			rec:      issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Warning},
			services: []svc{{"db.service", 0, 300 << 20}, {"crashy.service", 0, 196 << 10}},
			groups:   []svc{{"user-1000.slice", 0, 6 << 30}},
			memUsed:  8 << 30,
			says:     []string{"Memory is in user-1000.slice, not a service", "db.service"},
		},
		{
			name:     "a critical memory issue does not restart a small monitored unit",
			rec:      issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Critical},
			services: []svc{{"leaky.service", 0, 100 << 20}},
			groups:   []svc{{"user-1000.slice", 0, 7 << 30}},
			memUsed:  8 << 30,
			says:     []string{"user-1000.slice"},
		},
		{
			name:     "a memory hog service is throttled",
			rec:      issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Warning},
			services: []svc{{"hog.service", 0, 4 << 30}, {"db.service", 0, 300 << 20}},
			groups:   []svc{{"user-1000.slice", 0, 1 << 30}},
			memUsed:  8 << 30,
			want:     "hog.service",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var units []heal.UnitStatus
				for _, s := range tt.services {
					units = append(units, heal.UnitStatus{Name: s.name, ActiveState: "active", MemoryCurrent: s.mem})
				}
				f := healtest.New(units...)
				for _, s := range tt.services {
					f.Usage = append(f.Usage, heal.Usage{Unit: s.name, CPUUsageNSec: 1e12, MemoryCurrent: s.mem})
					f.CPURate[s.name] = s.cpuPerSec
				}
				for _, g := range tt.groups {
					f.Host.Groups = append(f.Host.Groups, heal.Usage{Unit: g.name, CPUUsageNSec: 5e12, MemoryCurrent: g.mem})
					f.CPURate[g.name] = g.cpuPerSec
				}
				f.Host.CPUBusyNSec, f.BusyRate = 9e12, tt.busy
				f.Host.MemoryUsed = tt.memUsed
				if tt.memUsed == 0 {
					f.Host.MemoryUsed = 16 << 30
				}
				s := testSettings()
				s.CPUSampleGap = time.Second
				h := heal.New(f, s, nil)
				res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: tt.rec})
				if tt.want != "" {
					if res.Outcome != heal.Succeeded || res.Target != tt.want {
						t.Fatalf("throttle: %s on %q (%s); want %s throttled", res.Outcome, res.Target, res.Message, tt.want)
					}
					return
				}
				if calls := f.Calls(); len(calls) != 0 {
					t.Errorf("calls = %q (%s); want none: no service causes this load", calls, res.Message)
				}
				if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrElsewhere) {
					t.Errorf("throttle: %s %v (%s); want refused: the load is elsewhere", res.Outcome, res.Err, res.Message)
				}
				for _, w := range tt.says {
					if !strings.Contains(res.Message, w) {
						t.Errorf("message %q; want it to say %q", res.Message, w)
					}
				}
			})
		})
	}
}
