package dbusapi_test

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
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

// BenchmarkRoundTripFromC measures BenchmarkRoundTrip's calls from a C
// client on sd-bus (testdata/sdbus-ping.c), beside a C service that sd-bus
// answers by itself: the same ratio with no Go runtime on the client side,
// and the floor a non-Go service has. It needs gcc and libsystemd's
// headers (Debian: libsystemd-dev) and skips without them.
func BenchmarkRoundTripFromC(b *testing.B) {
	d := benchDaemon(b)
	b.ResetTimer()
	bus, cPeer, daemon, status := sdbusPing(b, d.Bus.Address, b.N)
	b.StopTimer()
	b.ReportMetric(bus, "ns/bus-ping")
	b.ReportMetric(cPeer, "ns/c-peer-ping")
	b.ReportMetric(daemon, "ns/daemon-ping")
	b.ReportMetric(status, "ns/GetStatus")
	b.ReportMetric(cPeer/bus, "c-peer/bus-ping")
	b.ReportMetric(status/bus, "GetStatus/bus-ping")
}

// The C client of BenchmarkRoundTripFromC must keep working: it fails on
// any error reply, so a run that reports four times has made every call.
func TestTheCRoundTripClientRuns(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	bus, cPeer, daemon, status := sdbusPing(t, d.Bus.Address, 3)
	for _, ns := range []float64{bus, cPeer, daemon, status} {
		if ns <= 0 {
			t.Fatalf("round trips %v, %v, %v, %v ns; want four above zero", bus, cPeer, daemon, status)
		}
	}
}

// sdbusPing builds testdata/sdbus-ping.c, starts its C service on the bus
// at address and times rounds of its four calls; it returns the mean ns of
// each: the bus's Peer.Ping, the C service's, the daemon's, GetStatus.
func sdbusPing(t testing.TB, address string, rounds int) (bus, cPeer, daemon, status float64) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sdbus-ping")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, "testdata/sdbus-ping.c", "-lsystemd").CombinedOutput(); err != nil {
		t.Skipf("cannot build testdata/sdbus-ping.c (needs gcc and libsystemd-dev): %v\n%s", err, out)
	}
	serve := exec.Command(bin, "serve", address)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	peer, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("sdbus-ping serve: %v", err)
	}
	cmd := exec.Command(bin, "bench", address, strings.TrimSpace(peer), client.BusName, strconv.Itoa(rounds))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if _, serr := fmt.Sscan(string(out), &bus, &cPeer, &daemon, &status); err != nil || serr != nil {
		t.Fatalf("sdbus-ping bench: %q, %v: %s", out, err, stderr.String())
	}
	return bus, cPeer, daemon, status
}

// startRawPeer is the leanest Go service there can be on the bus, for
// BenchmarkRoundTrip's floor: it connects by hand (SASL EXTERNAL, Hello)
// and answers every method call it receives with an empty method return
// straight from its socket — no godbus dispatch, no goroutine per call —
// until the benchmark ends. It returns its unique name.
func startRawPeer(b *testing.B, address string) string {
	path, ok := strings.CutPrefix(address, "unix:path=")
	if !ok {
		b.Fatalf("raw peer: cannot use bus address %s", address)
	}
	path, _, _ = strings.Cut(path, ",")
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if _, err := io.WriteString(c, "\x00AUTH EXTERNAL "+uid+"\r\n"); err != nil {
		b.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "OK ") {
		b.Fatalf("raw peer: auth: %q, %v", line, err)
	}
	if _, err := io.WriteString(c, "BEGIN\r\n"); err != nil {
		b.Fatal(err)
	}
	serial := uint32(0)
	send := func(msg *dbus.Message) error {
		var buf strings.Builder
		if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
			return err
		}
		raw := []byte(buf.String())
		serial++
		binary.LittleEndian.PutUint32(raw[8:12], serial) // godbus cannot set a serial; the header's is here
		_, err := c.Write(raw)
		return err
	}
	hello := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath: dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/DBus")), dbus.FieldDestination: dbus.MakeVariant("org.freedesktop.DBus"),
		dbus.FieldInterface: dbus.MakeVariant("org.freedesktop.DBus"), dbus.FieldMember: dbus.MakeVariant("Hello")}}
	if err := send(hello); err != nil {
		b.Fatal(err)
	}
	reply, err := dbus.DecodeMessage(r)
	if err != nil || reply.Type != dbus.TypeMethodReply || len(reply.Body) != 1 {
		b.Fatalf("raw peer: Hello: %v, %v", reply, err)
	}
	name := reply.Body[0].(string)
	go func() {
		for {
			msg, err := dbus.DecodeMessage(r)
			if err != nil {
				return // the benchmark closed the connection
			}
			if msg.Type != dbus.TypeMethodCall {
				continue // NameAcquired and other signals
			}
			ret := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
				dbus.FieldReplySerial: dbus.MakeVariant(msg.Serial()), dbus.FieldDestination: msg.Headers[dbus.FieldSender]}}
			if err := send(ret); err != nil {
				fmt.Fprintln(os.Stderr, "raw peer:", err)
				return
			}
		}
	}()
	return name
}
