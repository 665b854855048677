package predict

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict/synth"
)

// The figures of issue 5 (docs/prediction.md):
//
//	go test ./internal/predict -run '^$' -bench BenchmarkPrediction -benchmem

// machineSnapshot is one pass over a machine with three watched mounts and
// PSI: cpu, memory, load, bytes and inodes of each mount, three pressures.
func machineSnapshot() detect.Snapshot {
	rs := []detect.Reading{
		{ID: "cpu", Kind: issue.CPU, Subject: "cpu"},
		{ID: "memory", Kind: issue.Memory, Subject: "memory"},
		{ID: "load", Kind: issue.Load, Subject: "load"},
	}
	for _, m := range []string{"/", "/nix", "/boot"} {
		rs = append(rs, detect.Reading{ID: "disk:" + m, Kind: issue.Disk, Subject: m},
			detect.Reading{ID: "inodes:" + m, Kind: issue.Disk, Subject: m})
	}
	for _, r := range []string{"cpu", "memory", "io"} {
		rs = append(rs, detect.Reading{ID: "pressure:" + r, Kind: issue.Pressure, Subject: r})
	}
	return detect.Snapshot{Readings: rs}
}

func thresholds(r detect.Reading) float64 {
	switch r.Kind {
	case issue.Load:
		return 3
	case issue.Memory:
		return 85
	case issue.Pressure:
		return 40
	}
	return 90
}

// BenchmarkPrediction prints the three figures the issue asks for.
func BenchmarkPrediction(b *testing.B) {
	b.Run("full pass over 11 series", func(b *testing.B) {
		p, _ := New(defaults, nil)
		snap := machineSnapshot()
		i := 0
		pass := func() {
			snap.Time = synth.Epoch.Add(time.Duration(i) * time.Minute)
			for j := range snap.Readings {
				// Every series rising under jitter, so every fit runs to the end.
				snap.Readings[j].Value = 20 + 0.05*float64(i%2000)*float64(j%4+1)/4 + math.Sin(float64(i*(j+3)))
			}
			p.Observe(&snap, thresholds)
			i++
		}
		for range historySize {
			pass()
		}
		b.ReportAllocs()
		for b.Loop() {
			pass()
			_ = p.Forecasts()
		}
		b.ReportMetric(float64(len(p.Forecasts())), "forecasts")
	})
	b.Run("steady-fill time-to-threshold error at half history", func(b *testing.B) {
		var errs []float64
		for b.Loop() {
			errs = errs[:0]
			for seed := uint64(1); seed <= seeds; seed++ {
				steps, _ := run(b, synth.SteadyFill(seed), defaults)
				st := steps[historySize/2-1]
				e := math.Inf(1)
				if st.ok {
					e = relErr(st)
				}
				errs = append(errs, e)
			}
		}
		b.ReportMetric(100*quantile(errs, 0.5), "median-err-%")
		b.ReportMetric(100*slices.Max(errs), "worst-err-%")
	})
	b.Run("saw-tooth false alarms", func(b *testing.B) {
		var alarms, warmup int
		for b.Loop() {
			alarms, warmup = 0, 0
			for seed := uint64(1); seed <= seeds; seed++ {
				steps, _ := run(b, synth.SawTooth(seed), defaults)
				for _, st := range steps {
					switch {
					case st.alarming && st.full:
						alarms++
					case st.alarming:
						warmup++
					}
				}
			}
		}
		b.ReportMetric(float64(alarms), "false-alarms")
		b.ReportMetric(float64(warmup), "warm-up-alarms")
	})
}

// BenchmarkSave is the atomic write of the history after every pass.
func BenchmarkSave(b *testing.B) {
	p, _ := New(defaults, openStore(b, b.TempDir()))
	snap := machineSnapshot()
	for i := range historySize {
		snap.Time = synth.Epoch.Add(time.Duration(i) * time.Minute)
		for j := range snap.Readings {
			snap.Readings[j].Value = 50 + float64(i)/10 + float64(j)
		}
		p.Observe(&snap, thresholds)
	}
	for b.Loop() {
		if err := p.Save(); err != nil {
			b.Fatal(err)
		}
	}
	data, _ := json.Marshal(p.snapshot())
	b.ReportMetric(float64(len(data)), "file-bytes")
}
