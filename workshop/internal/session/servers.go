package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// servers runs the OTLP receiver and the viewer until stop.
type servers struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error // a server that failed while running
}

func newServers() *servers {
	ctx, cancel := context.WithCancel(context.Background())
	return &servers{ctx: ctx, cancel: cancel, errs: make(chan error, 2)}
}

func (s *servers) start(ln net.Listener, h http.Handler) {
	s.wg.Go(func() {
		if err := otlp.Serve(s.ctx, ln, h); err != nil {
			s.errs <- fmt.Errorf("the server on %s stopped: %w", ln.Addr(), err)
		}
	})
}

// stop closes the listeners, lets in-flight requests finish, and returns
// the errors of servers that failed.
func (s *servers) stop() error {
	s.cancel()
	s.wg.Wait()
	var errs []error
	for {
		select {
		case err := <-s.errs:
			errs = append(errs, err)
		default:
			return errors.Join(errs...)
		}
	}
}
