package dbusapi_test

import (
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/detect"
)

// A status the size of a real machine's: ten series, three units.
var machineReadings = []detect.Reading{
	{ID: "cpu", Kind: "cpu", Subject: "cpu", Value: 23}, {ID: "memory", Kind: "memory", Subject: "memory", Value: 61},
	{ID: "load", Kind: "load", Subject: "load", Value: 0.7}, {ID: "disk:/", Kind: "disk", Subject: "/", Value: 48},
	{ID: "inodes:/", Kind: "disk", Subject: "/", Value: 9}, {ID: "disk:/nix", Kind: "disk", Subject: "/nix", Value: 71},
	{ID: "inodes:/nix", Kind: "disk", Subject: "/nix", Value: 33}, {ID: "pressure:cpu", Kind: "pressure", Subject: "cpu", Value: 2},
	{ID: "pressure:memory", Kind: "pressure", Subject: "memory", Value: 0}, {ID: "pressure:io", Kind: "pressure", Subject: "io", Value: 1},
}

func benchDaemon(b *testing.B) *apitest.Daemon {
	d := apitest.Start(b, apitest.Setup{Readings: machineReadings, Config: func(c *config.Config) {
		c.Monitoring.Interval = config.Duration(time.Second) // a first check fills the resources
		c.Services.Monitored = []string{"web.service", "other.service", "systemd-tmpfiles-clean.service"}
		c.Healing.DryRun = true
		c.DBus.CallsPerWindow = 100000
	}})
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Engine.Status().Resources) < len(machineReadings) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

func ping(b *testing.B, conn *dbus.Conn) {
	if err := conn.BusObject().Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		b.Fatal(err)
	}
}

func getStatus(b *testing.B, obj dbus.BusObject) {
	var m map[string]dbus.Variant
	if err := obj.Call(client.MethodGetStatus, 0).Store(&m); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTrip compares the daemon's GetStatus with the bus's own
// round trip (Peer.Ping to org.freedesktop.DBus, answered by dbus-daemon),
// measured alternately on one connection so all see the same machine.
// Target: GetStatus at most 1.5× the bus round trip. Beside them, the
// floor a Go service has: Peer.Ping to the daemon (godbus answers it
// without a handler) and to a bare Go peer that answers from its socket.
func BenchmarkRoundTrip(b *testing.B) {
	d := benchDaemon(b)
	conn := d.Bus.Conn(b)
	obj := conn.Object(client.BusName, client.ObjectPath)
	bare := conn.Object(startRawPeer(b, d.Bus.Address), "/")
	getStatus(b, obj) // warm the snapshot
	var tPing, tBare, tDaemon, tStatus time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		ping(b, conn)
		t1 := time.Now()
		if err := bare.Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := obj.Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		getStatus(b, obj)
		tStatus += time.Since(t3)
		tDaemon += t3.Sub(t2)
		tBare += t2.Sub(t1)
		tPing += t1.Sub(t0)
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(tPing), "ns/bus-ping")
	b.ReportMetric(per(tBare), "ns/bare-peer-ping")
	b.ReportMetric(per(tDaemon), "ns/daemon-ping")
	b.ReportMetric(per(tStatus), "ns/GetStatus")
	b.ReportMetric(float64(tBare)/float64(tPing), "bare-peer/bus-ping")
	b.ReportMetric(float64(tStatus)/float64(tPing), "GetStatus/bus-ping")
}

// BenchmarkFullStatus is what `healingctl status` and the dashboard cost:
// client.Status, GetStatus and the six list calls sent at once.
func BenchmarkFullStatus(b *testing.B) {
	d := benchDaemon(b)
	c := d.Client(b, client.Options{})
	b.ResetTimer()
	for range b.N {
		st, err := c.Status(b.Context())
		if err != nil || len(st.Resources) != len(machineReadings) {
			b.Fatalf("got %d resources, %v; want %d", len(st.Resources), err, len(machineReadings))
		}
	}
}

// BenchmarkGetStatusConcurrent runs GetStatus from 8 clients, each on its
// own connection, and reports the calls per second the daemon served.
// Target: at least 10,000 per second.
func BenchmarkGetStatusConcurrent(b *testing.B) {
	const clients = 8
	d := benchDaemon(b)
	objs := make([]dbus.BusObject, clients)
	for i := range objs {
		objs[i] = d.Bus.Conn(b).Object(client.BusName, client.ObjectPath)
		getStatus(b, objs[i])
	}
	concurrently(b, objs, func(obj dbus.BusObject) error {
		getStatus(b, obj)
		return nil
	})
}

// concurrently makes b.N calls spread over one goroutine per object and
// reports the calls per second served.
func concurrently(b *testing.B, objs []dbus.BusObject, call func(dbus.BusObject) error) {
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	per := (b.N + len(objs) - 1) / len(objs)
	for _, obj := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := call(obj); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(per*len(objs))/elapsed.Seconds(), "calls/s")
}

// BenchmarkGatedCallDryRun is a privileged call end to end in dry-run:
// RestartUnit on a monitored unit — uid lookup, rate limit, a polkit check
// (internal/polkit asking the fake authority on the bus), the planned
// action and its audit records.
func BenchmarkGatedCallDryRun(b *testing.B) {
	d := benchDaemon(b)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	c := d.Client(b, client.Options{})
	b.ResetTimer()
	for range b.N {
		r, err := c.RestartUnit(b.Context(), "web")
		if err != nil || r.Outcome != "planned" {
			b.Fatalf("got %+v, %v; want a planned restart", r, err)
		}
	}
}
