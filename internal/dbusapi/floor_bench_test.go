package dbusapi_test

import (
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// BenchmarkPingConcurrent is the floor under BenchmarkGetStatusConcurrent:
// Peer.Ping from 8 clients to the daemon (handled inside godbus) and to the
// bus itself.
func BenchmarkPingConcurrent(b *testing.B) {
	for _, target := range []string{"daemon", "bus"} {
		b.Run(target, func(b *testing.B) {
			const clients = 8
			d := benchDaemon(b)
			objs := make([]dbus.BusObject, clients)
			for i := range objs {
				c := d.Bus.Conn(b)
				if target == "bus" {
					objs[i] = c.BusObject()
				} else {
					objs[i] = c.Object(client.BusName, client.ObjectPath)
				}
			}
			concurrently(b, objs, func(obj dbus.BusObject) error {
				return obj.Call("org.freedesktop.DBus.Peer.Ping", 0).Err
			})
		})
	}
}
