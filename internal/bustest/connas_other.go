//go:build !(linux && (amd64 || arm64))

package bustest

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

// ConnAs is only implemented on linux/amd64 and linux/arm64, where the raw
// per-thread setresuid(2) it relies on has one well-known number.
func (b *Bus) ConnAs(t testing.TB, uid int) *dbus.Conn {
	t.Helper()
	t.Skip("bustest: ConnAs is not supported on this platform")
	return nil
}
