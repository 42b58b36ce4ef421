// Package session runs a stage with its telemetry: the services (as local
// processes or as containers), the OTLP receiver and store they send their
// spans to, and, for `workshop up`, the viewer. `up` and `check` both start
// one; they differ in what they do while it runs and in what they print.
package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Options say which stage module runs, how, and where its telemetry goes.
type Options struct {
	Stage int
	Dir   string // the stage module
	// Runtime is "local" (processes here, the default) or "docker".
	Runtime string
	// FreePorts runs local services on free ports instead of the stage's own
	// (a check beside a learner's running stage).
	FreePorts bool
	// Env is added to every service's environment.
	Env []string
	// InheritEnv passes the CLI's whole environment on to local services
	// (`up`: the learner's own code, in the learner's own terminal);
	// otherwise they get a minimal one (see stage.LocalOptions).
	InheritEnv bool
	// Output receives each line a service prints; the lines are also kept
	// in the store for the viewer's logs page.
	Output func(service string, line []byte)
	// Drain is the services' SHUTDOWN_TIMEOUT, how long they may finish
	// their requests after SIGTERM (zero: their default, 10 s). A stop waits
	// for it and their flush bound, then kills.
	Drain time.Duration

	// Receiver is the address of the OTLP/HTTP receiver ("127.0.0.1:4318";
	// port 0 for any); the services are told to send there. Empty: no
	// receiver and no endpoint, the services keep their own default.
	Receiver string
	// ReceiverMayBeTaken: when the receiver's port is in use (the Docker
	// stack's Alloy), run without one; the services send their telemetry to
	// whatever listens there. Otherwise a taken port is an error.
	ReceiverMayBeTaken bool
	// Viewer is the address of the telemetry viewer ("127.0.0.1:8190"),
	// empty for none; it needs the receiver.
	Viewer      string
	ViewerTitle string
	// OnExport, when set, sees every export request the receiver decodes
	// (`up --share` copies them to the class).
	OnExport func(req proto.Message)
}

// Session is a running stage and the servers its telemetry goes to.
type Session struct {
	// Store holds what the receiver got and the services' lines; nil
	// without a receiver.
	Store *otlp.Store
	// ReceiverTaken: Options.ReceiverMayBeTaken applied, the port was in use.
	ReceiverTaken bool
	// ViewerAddr is where the viewer listens; empty without one.
	ViewerAddr string

	sys     system
	servers *servers
	stopped bool
}

// system is a stage running on either runtime.
type system interface {
	URL(service string) string
	Services() []stage.Service
	Stop(ctx context.Context) error
	StopService(ctx context.Context, service string) error
}

// ListenError is a server of the session that could not listen.
type ListenError struct {
	Server string // "viewer"
	Addr   string
	Err    error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("the %s cannot listen on %s: %v", e.Server, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Start starts the receiver and the viewer, then builds and starts the
// services, and returns once every service answers. On any failure (and
// when ctx ends) everything started so far is stopped.
func Start(ctx context.Context, o Options) (_ *Session, err error) {
	switch o.Runtime {
	case "", "local", "docker":
	default:
		return nil, fmt.Errorf("unknown runtime %q; valid: docker, local", o.Runtime)
	}
	s := &Session{servers: newServers()}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	var viewerLn net.Listener
	otlpPort := 0
	if o.Receiver != "" {
		ln, err := otlp.Listen(o.Receiver)
		switch {
		case errors.Is(err, otlp.ErrAddrInUse) && o.ReceiverMayBeTaken:
			s.ReceiverTaken = true
			if _, port, err := net.SplitHostPort(o.Receiver); err == nil {
				otlpPort, _ = strconv.Atoi(port)
			}
		case err != nil:
			return nil, err
		default:
			otlpPort = ln.Addr().(*net.TCPAddr).Port
			s.Store = otlp.NewStore(otlp.DefaultLimits)
			rc := otlp.NewReceiver(s.Store)
			rc.OnExport = o.OnExport
			s.servers.start(ln, rc)
			if o.Viewer != "" {
				if viewerLn, err = net.Listen("tcp", o.Viewer); err != nil {
					return nil, &ListenError{Server: "viewer", Addr: o.Viewer, Err: err}
				}
			}
		}
	}

	env := o.Env[:len(o.Env):len(o.Env)]
	if o.Drain > 0 {
		env = append(env, "SHUTDOWN_TIMEOUT="+o.Drain.String())
	}
	stopTimeout := stage.StopTimeout(o.Drain)
	output := func(service string, line []byte) {
		if s.Store != nil {
			s.Store.AddLogLine(service, line)
		}
		if o.Output != nil {
			o.Output(service, line)
		}
	}
	// (Assigned only on success: a nil *LocalSystem in the interface would
	// not compare equal to nil.)
	switch o.Runtime {
	case "docker":
		var sys *runtime.DockerSystem
		if sys, err = runtime.StartDocker(ctx, runtime.DockerOptions{
			Dir: o.Dir, Stage: o.Stage, Env: env, OTLPPort: otlpPort, Output: output, StopTimeout: stopTimeout,
		}); err == nil {
			s.sys = sys
		}
	default:
		if otlpPort != 0 {
			env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:"+strconv.Itoa(otlpPort))
		}
		var sys *stage.LocalSystem
		if sys, err = stage.StartLocal(ctx, stage.LocalOptions{
			Dir: o.Dir, Stage: o.Stage, FreePorts: o.FreePorts, Env: env, Output: output, StopTimeout: stopTimeout,
			InheritEnv: o.InheritEnv,
		}); err == nil {
			s.sys = sys
		}
	}
	if err != nil {
		if viewerLn != nil {
			viewerLn.Close()
		}
		return nil, err
	}

	if viewerLn != nil {
		metrics := map[string]string{}
		for _, svc := range s.sys.Services() {
			metrics[svc.Name] = s.URL(svc.Name) + "/metrics"
		}
		s.ViewerAddr = viewerLn.Addr().String()
		s.servers.start(viewerLn, viewer.New(s.Store, viewer.Options{Title: o.ViewerTitle, Metrics: metrics}))
	}
	return s, nil
}

// URL is the base URL of a service, as reached from this machine.
func (s *Session) URL(service string) string { return s.sys.URL(service) }

// Services lists the running services, dependencies first.
func (s *Session) Services() []stage.Service { return s.sys.Services() }

// Wait returns nil when ctx ends (a signal), or what happened when a
// service exits or one of the servers fails first.
func (s *Session) Wait(ctx context.Context) error {
	local, _ := s.sys.(*stage.LocalSystem)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.servers.errs:
			return err
		case <-tick.C:
			if local == nil {
				continue
			}
			exited := local.Exited()
			for _, svc := range local.Services() {
				if err, ok := exited[svc.Name]; ok {
					detail := ""
					if err != nil {
						detail = " (" + err.Error() + ")"
					}
					return fmt.Errorf("the %s exited unexpectedly%s", svc.Name, detail)
				}
			}
		}
	}
}

// StopServices stops the services (SIGTERM: they drain their requests and
// flush their telemetry; killed when ctx ends first) while the receiver
// still listens, and returns how many spans arrived meanwhile: what the
// services' final flush delivered.
func (s *Session) StopServices(ctx context.Context) (flushed int, err error) {
	if s.stopped || s.sys == nil {
		return 0, nil
	}
	s.stopped = true
	before := spansByTrace(s.Store)
	err = s.sys.Stop(ctx)
	return flushedSpans(before, spansByTrace(s.Store)), err
}

// StopService stops one service (SIGTERM: it drains and flushes; killed
// when ctx ends or past its stop bound) while the others and the receiver
// keep running.
func (s *Session) StopService(ctx context.Context, service string) error {
	return s.sys.StopService(ctx, service)
}

// Close stops the services if they still run, then the receiver and the
// viewer, and returns what failed. The store stays readable.
func (s *Session) Close() error {
	var errs []error
	if !s.stopped && s.sys != nil {
		_, err := s.StopServices(context.Background()) // bounded by the stop timeout
		errs = append(errs, err)
	}
	errs = append(errs, s.servers.stop())
	return errors.Join(errs...)
}

// spansByTrace counts the spans held per trace; nil without a store.
func spansByTrace(store *otlp.Store) map[string]int {
	if store == nil {
		return nil
	}
	counts := map[string]int{}
	for _, t := range store.Traces(0) {
		counts[t.ID] = len(t.Spans)
	}
	return counts
}

// flushedSpans is how many spans arrived between two counts. (A trace
// evicted in between only hides its own spans, not the new ones.)
func flushedSpans(before, after map[string]int) int {
	n := 0
	for id, c := range after {
		n += max(0, c-before[id])
	}
	return n
}
