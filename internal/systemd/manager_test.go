package systemd

import "testing"

func TestUnitFromCgroup(t *testing.T) {
	tests := []struct {
		name, cgroup, want string
	}{
		{"cgroup v2 service", "0::/system.slice/luminous-healing.service\n", "luminous-healing.service"},
		{"cgroup v1 named hierarchy", "4:memory:/x\n1:name=systemd:/system.slice/nginx.service\n0::/\n", "nginx.service"},
		{"a sub-cgroup of a service", "0::/system.slice/foo.service/worker\n", "foo.service"},
		{"a user's session scope", "0::/user.slice/user-1000.slice/session-2.scope\n", "session-2.scope"},
		{"no unit at all", "0::/\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unitFromCgroup(tt.cgroup); got != tt.want {
				t.Errorf("unitFromCgroup = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestUnitPathEscapesLikeSystemd(t *testing.T) {
	tests := map[string]string{
		"nginx.service":      "/org/freedesktop/systemd1/unit/nginx_2eservice",
		"getty@tty1.service": "/org/freedesktop/systemd1/unit/getty_40tty1_2eservice",
		"a-b.service":        "/org/freedesktop/systemd1/unit/a_2db_2eservice",
	}
	for unit, want := range tests {
		if got := string(UnitPath(unit)); got != want {
			t.Errorf("UnitPath(%q) = %q; want %q", unit, got, want)
		}
	}
}
