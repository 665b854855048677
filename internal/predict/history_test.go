package predict

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

func openStore(t testing.TB, dir string) *state.Dir {
	d, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHistorySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	p, err := New(defaults, openStore(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	f := newFeeder(t, p, 90)
	f.feed(40, rising(12))
	p.Intervened(issue.Disk, f.now()) // voids the first forecast
	f.th = 150
	f.feed(450, rising(12)) // the second is recorded and scored on its trend
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}

	q, err := New(defaults, openStore(t, dir))
	if err != nil {
		t.Fatalf("New on the saved state: %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"series", q.Series("disk:/"), p.Series("disk:/")},
		{"accuracy", q.Accuracy(), p.Accuracy()},
		{"recorded forecasts", q.Scores(), p.Scores()},
	} {
		if !equalJSONish(c.got, c.want) {
			t.Errorf("%s after restart:\n got %+v\nwant %+v", c.what, c.got, c.want)
		}
	}
	if a := q.Accuracy(); a.Scored == 0 || a.Voided == 0 {
		t.Errorf("accuracy %+v; the test meant to persist scored and voided forecasts", a)
	}
	// The restarted predictor forecasts from the restored history at once.
	g := newFeeder(t, q, 150)
	g.i = f.i
	g.feed(f.i+1, rising(12))
	if len(q.Forecasts()) != 1 {
		t.Error("no forecast from the restored history")
	}
}

// equalJSONish compares values after the round trip's loss of monotonic
// clock readings and time zones.
func equalJSONish(a, b any) bool {
	return reflect.DeepEqual(fmt.Sprintf("%v", norm(a)), fmt.Sprintf("%v", norm(b)))
}

func norm(v any) any {
	switch v := v.(type) {
	case []Point:
		out := make([]string, len(v))
		for i, p := range v {
			out[i] = fmt.Sprintf("%d=%g", p.T.UnixMilli(), p.V)
		}
		return out
	case []Score:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = fmt.Sprintf("%s %s %d %d %g %g %g %s", s.Series, s.Outcome, s.At.UnixMilli(), s.Settled.UnixMilli(), s.Observed, s.Confidence, s.TrendPerHour, s.TimeToThreshold)
		}
		return out
	}
	return v
}

func TestACorruptHistoryIsReportedAndReplaced(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		movedAside    bool
		keeps         string // a series that survives
	}{
		{"a torn file", `{"version":1,"series":{"disk:/":{"kind":"disk","t":[1,2`, true, ""},
		{"not JSON", "\x00\x01garbage", true, ""},
		{"an unknown version", `{"version":7,"series":{}}`, false, ""},
		{"a series with times out of order", `{"version":1,"series":{
			"disk:/":{"kind":"disk","subject":"/","t":[3,2,1],"v":[1,2,3]},
			"memory":{"kind":"memory","subject":"memory","t":[1,2,3],"v":[1,2,3]}}}`, false, "memory"},
		{"a series with more times than values", `{"version":1,"series":{"disk:/":{"kind":"disk","subject":"/","t":[1,2,3],"v":[1]}}}`, false, ""},
		{"a series of an unknown kind", `{"version":1,"series":{"x":{"kind":"gpu","subject":"x","t":[1],"v":[1]}}}`, false, ""},
		{"an impossible accuracy", `{"version":1,"series":{},"accuracy":{"scored":1,"correct":5}}`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, fileName), []byte(tc.content), 0o600)
			p, err := New(defaults, openStore(t, dir))
			if !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("New = %v; want an error wrapping state.ErrCorrupt", err)
			}
			if p == nil {
				t.Fatal("no predictor beside the error")
			}
			aside, _ := filepath.Glob(filepath.Join(dir, fileName+".corrupt-*"))
			if tc.movedAside != (len(aside) == 1) {
				t.Errorf("moved aside: %v; want %v", aside, tc.movedAside)
			}
			if tc.keeps != "" && len(p.Series(tc.keeps)) == 0 {
				t.Errorf("the sound series %q was dropped too", tc.keeps)
			}
			if a := p.Accuracy(); a.Correct > a.Scored {
				t.Errorf("accuracy %+v kept", a)
			}
			// It works, and the next save replaces the bad file.
			f := newFeeder(t, p, 90)
			f.feed(20, rising(12))
			if err := p.Save(); err != nil {
				t.Fatal(err)
			}
			if _, err := New(defaults, openStore(t, dir)); err != nil {
				t.Errorf("after the next save, New = %v; want no error", err)
			}
		})
	}
}

// TestSIGKILLMidWriteLeavesAUsableHistory kills a process that saves the
// history in a loop and checks that what it leaves loads cleanly.
func TestSIGKILLMidWriteLeavesAUsableHistory(t *testing.T) {
	if dir := os.Getenv("PREDICT_SAVE_LOOP"); dir != "" {
		saveLoop(dir)
		return
	}
	dir := t.TempDir()
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLMidWriteLeavesAUsableHistory$")
		cmd.Env = append(os.Environ(), "PREDICT_SAVE_LOOP="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it write for a while, then kill it wherever it is.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(dir, fileName)); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(20+round*17) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		p, err := New(defaults, openStore(t, dir)) // Open also clears the killed writer's temporary file
		if err != nil {
			t.Fatalf("round %d: New after SIGKILL = %v; want the last complete history", round, err)
		}
		if len(p.Series("memory")) == 0 {
			t.Fatalf("round %d: the history is empty", round)
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
		if len(left) != 0 {
			t.Errorf("round %d: temporary files left: %v", round, left)
		}
	}
}

func saveLoop(dir string) {
	d, err := state.Open(dir)
	if err != nil {
		panic(err)
	}
	p, _ := New(Settings{HistorySize: 5000, Horizon: time.Hour, MinConfidence: 0.8}, d)
	snap := detect.Snapshot{Time: time.Now()}
	for i := range 20 {
		snap.Readings = append(snap.Readings, detect.Reading{ID: fmt.Sprintf("disk:/m%d", i), Kind: issue.Disk, Subject: fmt.Sprintf("/m%d", i)})
	}
	snap.Readings = append(snap.Readings, detect.Reading{ID: "memory", Kind: issue.Memory, Subject: "memory"})
	for i := 0; ; i++ {
		snap.Time = snap.Time.Add(time.Second)
		for j := range snap.Readings {
			snap.Readings[j].Value = float64(i%100) + float64(j)
		}
		p.Observe(&snap, func(detect.Reading) float64 { return 0 })
		if err := p.Save(); err != nil && !strings.Contains(err.Error(), "interrupted") {
			panic(err)
		}
	}
}
