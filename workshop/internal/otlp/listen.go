package otlp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// DefaultPort is OTLP/HTTP's port, where the services send by default.
const DefaultPort = 4318

// DefaultAddr is where the receiver listens: the OTLP/HTTP port on
// loopback, where the local services send. Not every interface: anyone on a
// conference wifi could push into a learner's viewer. Containers reach the
// CLI through the Docker bridge's gateway instead (runtime.ReceiverHost).
var DefaultAddr = LoopbackAddr(DefaultPort)

// LoopbackAddr is port on 127.0.0.1.
func LoopbackAddr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// ErrAddrInUse is returned by Listen when the port is taken — usually by the
// Docker stack's Alloy, which `workshop up` then sends telemetry to instead.
var ErrAddrInUse = errors.New("address already in use")

// Listen binds addr, or DefaultAddr when addr is "".
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("otlp receiver on %s: %w (%w)", addr, ErrAddrInUse, err)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp receiver on %s: %w", addr, err)
	}
	return ln, nil
}

// shutdownTimeout bounds how long Serve waits for in-flight exports.
const shutdownTimeout = 3 * time.Second

// Serve serves h (a Receiver, or a mux holding one) on ln until ctx ends,
// then lets in-flight requests finish for a few seconds. It returns nil
// after a clean stop.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// ctx is already done: the drain needs a context of its own.
	drain, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(drain)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
