package systemd

// knownStates are the values systemd gives for a unit's LoadState,
// ActiveState, SubState and UnitFileState (systemd 252's unit-def.c and
// install.c), each kept once.
var knownStates = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		// LoadState
		"stub", "loaded", "not-found", "bad-setting", "error", "merged", "masked",
		// ActiveState
		"active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "refreshing",
		// SubState, services and the other unit types
		"dead", "condition", "start-pre", "start", "start-post", "running", "exited", "reload",
		"stop", "stop-watchdog", "stop-sigterm", "stop-sigkill", "stop-post", "final-watchdog",
		"final-sigterm", "final-sigkill", "auto-restart", "cleaning", "mounting", "mounting-done",
		"mounted", "remounting", "unmounting", "remounting-sigterm", "remounting-sigkill",
		"unmounting-sigterm", "unmounting-sigkill", "tentative", "plugged", "listening", "waiting",
		"elapsed", "abandoned", "activating-sigterm", "activating-sigkill", "deactivating-sigterm",
		"deactivating-sigkill", "start-chown", "stop-pre", "stop-pre-sigterm", "stop-pre-sigkill",
		"swapping", "activating-done",
		// UnitFileState
		"enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "static", "disabled",
		"indirect", "generated", "transient", "masked-runtime",
	} {
		m[s] = s
	}
	return m
}()

// state returns systemd's state s as a string kept once: a state decoded
// from the bus is a new string each time, and the engine keeps a few per
// monitored unit for as long as it runs.
func state(s string) string {
	if k, ok := knownStates[s]; ok {
		return k
	}
	return s
}
