package web

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// allowedHost reports whether a request's Host may be answered on a
// listener that is not bound to loopback. A DNS-rebinding page always sends
// its own name as Host; the names that reach the daemon honestly are its
// loopback names, the machine's host name (and name.local), an address
// literal equal to the address the connection came in on, and the names an
// administrator lists in monitoring.allowed_hosts.
func (s *Server) allowedHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if loopbackHost(host) {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ta, ok := la.(*net.TCPAddr); ok && ta.IP.Equal(ip) {
				return true
			}
		}
		return false
	}
	if hn, err := os.Hostname(); err == nil && hn != "" {
		hn = strings.ToLower(hn)
		short, _, _ := strings.Cut(hn, ".")
		if host == hn || host == short || host == short+".local" {
			return true
		}
	}
	return slices.ContainsFunc(s.o.Engine.Config().Monitoring.AllowedHosts, func(h string) bool {
		return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), ".")) == host
	})
}

// maxStreamsPerClient bounds one client's share of the maxStreams event
// streams, so one client cannot take them all and lock the others out.
const maxStreamsPerClient = 4

// clientStreams counts open event streams per client: per remote address,
// and on loopback per local user (every local user shares 127.0.0.1, and
// one of them must not be able to lock out the others).
type clientStreams struct {
	mu   sync.Mutex
	open map[string]int
}

// take reserves a stream for client, or reports that it has its share.
func (c *clientStreams) take(client string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[string]int{}
	}
	if c.open[client] >= maxStreamsPerClient {
		return nil, false
	}
	c.open[client]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.open[client]--; c.open[client] <= 0 {
			delete(c.open, client)
		}
	}, true
}

// clientOf names the client of r for the per-client stream cap: "uid N"
// for a loopback connection whose owner the kernel tells, else the remote
// IP address.
func clientOf(r *http.Request) string {
	remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if remote.IP.IsLoopback() {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
			if uid, ok := socketOwner(remote, la); ok {
				return "uid " + strconv.FormatUint(uint64(uid), 10)
			}
		}
	}
	return remote.IP.String()
}

// socketOwner finds the uid that owns the local TCP socket at local whose
// peer is peer, from /proc/net/tcp or tcp6: for a loopback connection to
// the daemon, local is the client's end.
func socketOwner(local, peer *net.TCPAddr) (uint32, bool) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if uid, ok := socketOwnerIn(file, local, peer); ok {
			return uid, true
		}
	}
	return 0, false
}

func socketOwnerIn(file string, local, peer *net.TCPAddr) (uint32, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	want := procAddr(local) + " " + procAddr(peer)
	want6 := procAddr6(local) + " " + procAddr6(peer)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid …
		if len(fields) < 8 {
			continue
		}
		if pair := fields[1] + " " + fields[2]; pair != want && pair != want6 {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		return uint32(uid), err == nil
	}
	return 0, false
}

// procAddr is an IPv4 address as /proc/net/tcp writes it: the 32-bit
// address in host (little-endian) byte order and the port, in hex.
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], a.Port)
}

// procAddr6 is an address as /proc/net/tcp6 writes it: four 32-bit words,
// each in host byte order.
func procAddr6(a *net.TCPAddr) string {
	ip := a.IP.To16()
	if ip == nil {
		return ""
	}
	var b strings.Builder
	for w := 0; w < 16; w += 4 {
		fmt.Fprintf(&b, "%02X%02X%02X%02X", ip[w+3], ip[w+2], ip[w+1], ip[w])
	}
	fmt.Fprintf(&b, ":%04X", a.Port)
	return b.String()
}
