package heal

// builtinProtected are never throttled: the daemon itself, the bus, the
// journal, logind, display managers and sshd. Restarting them when they are
// monitored and have failed is still allowed — that is what a person would do.
var builtinProtected = []string{
	"luminous-healing.service",
	"dbus.service", "dbus-broker.service",
	"systemd-journald.service", "systemd-logind.service",
	"systemd-udevd.service", "polkit.service",
	"display-manager.service", "gdm.service", "sddm.service", "lightdm.service",
	"sshd.service", "ssh.service",
	"init.scope",
}

// BuiltinProtected returns a copy of the built-in protected units.
func BuiltinProtected() []string { return append([]string(nil), builtinProtected...) }
