package issue

import "testing"

func TestParseNamesAcceptTheirListAndSayWhatTheyWant(t *testing.T) {
	for _, k := range Kinds {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", k, got, err, k)
		}
	}
	for _, a := range Actions {
		if got, err := ParseAction(string(a)); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %q, %v; want %q", a, got, err, a)
		}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"an unknown kind", func() error { _, err := ParseKind("Disk"); return err }(), `unknown issue kind "Disk" (want one of cpu, memory, disk, load, pressure, unit, probe)`},
		{"reload, which callers cannot name", func() error { _, err := ParseAction("reload"); return err }(), `unknown action "reload" (want restart, cleanup, throttle or none)`},
		{"an unknown severity", func() error { _, err := ParseSeverity("fatal"); return err }(), `unknown severity "fatal" (want ok, warning or critical)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || tc.err.Error() != tc.want {
				t.Errorf("got %v; want %s", tc.err, tc.want)
			}
		})
	}
}
