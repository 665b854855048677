package web

import (
	"net"
	"os"
	"testing"
)

func TestSocketOwnerNamesTheUserAtTheOtherEndOfALoopbackConnection(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			uid, ok := socketOwner(s.RemoteAddr().(*net.TCPAddr), s.LocalAddr().(*net.TCPAddr))
			if !ok || uid != uint32(os.Getuid()) {
				t.Errorf("socketOwner = %d, %v; want %d, true", uid, ok, os.Getuid())
			}
		})
	}
}
