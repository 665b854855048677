package nixclean

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDecideKeepsWhatAnyRuleKeeps(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// Ten generations, one every 3 days: 10 is 3 days old, 1 is 30.
	var gens []Generation
	for n := 1; n <= 10; n++ {
		gens = append(gens, Generation{Number: n, Target: fmt.Sprintf("/nix/store/sys-%d", n), Time: now.Add(-time.Duration(11-n) * 3 * day)})
	}
	for _, tc := range []struct {
		name    string
		current int
		p       Policy
		pins    []Pin
		keep    []int
	}{
		{"the newest N stay", 10, Policy{KeepGenerations: 3}, nil, []int{8, 9, 10}},
		{"generations younger than D stay", 10, Policy{KeepGenerations: 1, KeepFor: 10 * day}, nil, []int{8, 9, 10}},
		{"the profile's current generation stays even when old", 2, Policy{KeepGenerations: 2}, nil, []int{2, 9, 10}},
		{"the booted and running systems stay", 10, Policy{KeepGenerations: 1},
			[]Pin{{"/nix/store/sys-4", "booted"}, {"/nix/store/sys-6", "running"}}, []int{4, 6, 10}},
		{"a system several generations point to keeps only the newest of them", 10, Policy{KeepGenerations: 1},
			[]Pin{{"/nix/store/dup", "booted"}}, []int{5, 10}},
		{"an unknown booted system keeps nothing more", 10, Policy{KeepGenerations: 1}, []Pin{{"", "booted"}, {"/nix/store/other", "running"}}, []int{10}},
		{"keeping more than there are deletes nothing", 10, Policy{KeepGenerations: 50}, nil, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kept []int
			in := slices.Clone(gens)
			for _, n := range []int{2, 3, 5} { // three generations of one system
				in[n-1].Target = "/nix/store/dup"
			}
			for _, g := range Decide(in, tc.current, tc.p, now, tc.pins...) {
				if g.Keep {
					kept = append(kept, g.Number)
					if len(g.Why) == 0 {
						t.Errorf("generation %d kept without a reason", g.Number)
					}
				} else if len(g.Why) != 0 {
					t.Errorf("generation %d deleted with reasons %v", g.Number, g.Why)
				}
			}
			if !slices.Equal(kept, tc.keep) {
				t.Errorf("kept %v; want %v", kept, tc.keep)
			}
		})
	}
}

func TestPolicyRefusesToKeepNothing(t *testing.T) {
	for _, p := range []Policy{{KeepGenerations: 0}, {KeepGenerations: -1}, {KeepGenerations: 1, KeepFor: -time.Hour}} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", p)
		}
	}
	if _, err := Run(t.Context(), Options{}); err == nil {
		t.Errorf("Run with a zero policy = nil error; want a refusal")
	}
}

func TestGenerationsReadsLinksAndDates(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "system")
	for _, n := range []string{"system-1-link", "system-2-link", "system-10-link", "system-01-link", "system-x-link", "systemd-3-link", "other-4-link"} {
		if err := os.Symlink("/nix/store/"+n, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("system-10-link", profile); err != nil {
		t.Fatal(err)
	}
	gens, current, err := Generations(profile)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, g := range gens {
		nums = append(nums, g.Number)
		if g.Time.IsZero() || g.Target != "/nix/store/"+filepath.Base(g.Link) {
			t.Errorf("generation %d: %+v", g.Number, g)
		}
	}
	if !slices.Equal(nums, []int{1, 2, 10}) || current != 10 {
		t.Errorf("got generations %v, current %d; want [1 2 10], current 10", nums, current)
	}
}
