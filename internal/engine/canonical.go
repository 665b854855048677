package engine

import "context"

// CanonicalUnit returns the unit a (normalised) name resolves to in
// systemd — an alias names its unit — or name itself when systemd cannot
// say. The D-Bus server resolves before it decides the polkit action and
// builds polkit's details, so the prompt names the unit that would be
// acted on; the healer resolves again before its own rules.
func (e *Engine) CanonicalUnit(ctx context.Context, name string) string {
	return e.heal.Canonical(ctx, name)
}
