// Command probeserver is the end-to-end suite's monitored server: it
// answers "ok" over HTTP on -http and accepts TCP connections on -tcp.
// SIGUSR1 closes the TCP listener while the process stays up (a server
// that stopped accepting); SIGSTOP from systemctl kill freezes it whole.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	httpAddr := flag.String("http", "", "HTTP address")
	tcpAddr := flag.String("tcp", "", "TCP address")
	flag.Parse()
	if *tcpAddr != "" {
		ln, err := net.Listen("tcp", *tcpAddr)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			<-usr1
			log.Print("SIGUSR1: no longer accepting")
			ln.Close()
		}()
	}
	if *httpAddr != "" {
		http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
		log.Fatal(http.ListenAndServe(*httpAddr, nil))
	}
	select {}
}
