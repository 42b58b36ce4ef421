// Command relay is the one way in and out of a stage run as containers: the
// services sit on an internal network with no route anywhere, not even to
// this machine, and the relay, on that network and on an ordinary one,
// forwards TCP for a fixed list of routes: the services' ports (published
// on this machine's loopback) and the CLI's OTLP receiver. It is the
// CLI's code, not a learner's: the runtime package builds it from this
// file, embedded in the CLI, with the standard library only.
//
// Usage: relay LISTEN_PORT=HOST:PORT...
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxConns bounds the connections open at once per route.
const maxConns = 256

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: relay LISTEN_PORT=HOST:PORT...")
		os.Exit(2)
	}
	var lns []net.Listener
	for _, route := range os.Args[1:] {
		port, target, ok := strings.Cut(route, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "relay: bad route %q\n", route)
			os.Exit(2)
		}
		ln, err := net.Listen("tcp", ":"+port)
		if err != nil {
			fmt.Fprintf(os.Stderr, "relay: %v\n", err)
			os.Exit(1)
		}
		lns = append(lns, ln)
		go serve(ln, target)
	}
	fmt.Printf("relay: %d routes\n", len(lns))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	for _, ln := range lns {
		ln.Close()
	}
}

func serve(ln net.Listener, target string) {
	sem := make(chan struct{}, maxConns)
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		go func() {
			defer func() { <-sem }()
			forward(c, target)
		}()
	}
}

// forward copies both ways between c and a connection to target, each
// direction closed for writing when the other side is done.
func forward(c net.Conn, target string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}
