package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// upOptions is a parsed `workshop up`.
type upOptions struct {
	stage      int
	dir        string        // the module to run
	code       string        // what runs, for people: "reference code, stages/stage4"
	brk        *breaks.Break // nil unless --break
	viewer     bool          // run the built-in receiver and viewer
	viewerPort int
	otlpPort   int
}

func runUp(env *Env, args []string) error {
	fs := newFlags(env, "up", "N [--exercise] [--break NAME|list] [--no-viewer] [--viewer-port 8190] [--otlp-port 4318]")
	exercise := fs.Bool("exercise", false, "run your code in exercises/stageN instead of the reference")
	noViewer := fs.Bool("no-viewer", false, "start neither the built-in OTLP receiver nor the viewer: the telemetry goes to whatever listens on --otlp-port")
	breakName := fs.String("break", "", "run the reference with the classic instrumentation mistake `NAME` switched in (list: name them all)")
	viewerPort := fs.Int("viewer-port", 8190, "port of the telemetry viewer, on localhost")
	otlpPort := fs.Int("otlp-port", 4318, "port of the OTLP/HTTP receiver the services send their telemetry to")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *breakName == "list" {
		return listBreaks(env.Stdout, rest)
	}
	if len(rest) != 1 {
		return usagef("up needs one stage: workshop up 4")
	}
	n, err := stageArg(rest[0])
	if err != nil {
		return err
	}
	for flag, port := range map[string]int{"--viewer-port": *viewerPort, "--otlp-port": *otlpPort} {
		if port < 1 || port > 65535 {
			return usagef("%s %d is not a port: want a number from 1 to 65535", flag, port)
		}
	}
	o := upOptions{stage: n, viewer: !*noViewer, viewerPort: *viewerPort, otlpPort: *otlpPort}
	if *breakName != "" {
		b, err := breaks.Find(*breakName)
		if err != nil {
			return usageError{err.Error() + " (workshop up --break list describes them)"}
		}
		if !b.AppliesTo(n) {
			return usagef("break %s applies to %s, not stage %d", b.Name, b.StageRange(), n)
		}
		if *exercise {
			return usagef("--break switches a mistake into the reference code; it does not combine with --exercise")
		}
		o.brk = &b
	}

	root, err := env.root()
	if err != nil {
		return err
	}
	o.dir = repo.StageDir(root, n)
	if *exercise {
		o.dir = repo.ExerciseDir(root, n)
	}
	rel, _ := filepath.Rel(root, o.dir)
	rel = filepath.ToSlash(rel)
	switch {
	case *exercise:
		if _, err := os.Stat(filepath.Join(o.dir, "go.mod")); err != nil {
			return fmt.Errorf("%s does not exist yet: this checkout has no exercise for stage %d "+
				"(`workshop up %d` runs the reference)", rel, n, n)
		}
		o.code = "your code in " + rel
	case o.brk != nil:
		o.code = "the reference in " + rel + " with the break " + o.brk.Name
	default:
		o.code = "the reference in " + rel
	}

	// SIGHUP too: a closed terminal must not leave the services running
	// (they are in process groups of their own, so it would not reach them).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return up(ctx, env, o)
}

// listBreaks prints the breaks one line each: all, or those of one stage.
func listBreaks(w io.Writer, rest []string) error {
	stage := 0
	switch len(rest) {
	case 0:
	case 1:
		n, err := repo.ParseStage(rest[0])
		if err != nil {
			return usageError{err.Error()}
		}
		stage = n
	default:
		return usagef("--break list takes at most a stage")
	}
	for _, b := range breaks.All {
		if stage == 0 || b.AppliesTo(stage) {
			fmt.Fprintf(w, "%-20s %-11s %s\n", b.Name, b.StageRange(), b.Summary)
		}
	}
	example := "workshop up 4 --break background-context"
	if stage != 0 && stage != 4 {
		example = fmt.Sprintf("workshop up %d --break no-trace-id-in-logs", stage)
	}
	fmt.Fprintf(w, "\nRun one with `%s`: the viewer then shows what the mistake looks like.\n", example)
	return nil
}

// up runs the stage until ctx ends (a signal) or a service dies, and leaves
// nothing running when it returns.
func up(ctx context.Context, env *Env, o upOptions) (err error) {
	services, err := stage.Layout(o.stage)
	if err != nil {
		return err
	}
	sweepLocal(env) // a killed earlier run's services would hold the ports
	// Checked before building anything: a port still held by an earlier run
	// (or by the Docker stack) is the usual way this fails.
	for _, s := range services {
		if !upPortFree(s.Port) {
			return fmt.Errorf("port %d of the %s is already in use (is stage %d still running, in another terminal "+
				"or in Docker?): stop what holds it; `workshop doctor` names it", s.Port, s.Name, o.stage)
		}
	}
	out := newUpOutput(env, services)

	if o.brk != nil {
		tmp, err := os.MkdirTemp("", "workshop-break-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		broken := filepath.Join(tmp, "stage"+strconv.Itoa(o.stage))
		if err := breaks.Apply(o.dir, broken, *o.brk, o.stage); err != nil {
			return err
		}
		o.dir = broken
	}

	// The receiver and the viewer outlive the services, so the spans the
	// services flush on their way out are still received.
	srv := newUpServers()
	defer func() { err = errors.Join(err, srv.stop()) }()
	if o.viewer {
		ln, err := otlp.Listen("0.0.0.0:" + strconv.Itoa(o.otlpPort))
		switch {
		case errors.Is(err, otlp.ErrAddrInUse):
			o.viewer = false
			out.say("port %d is already taken (the Docker stack's Alloy?): the services send their telemetry there, "+
				"and the built-in viewer is off.", o.otlpPort)
		case err != nil:
			return err
		default:
			vln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(o.viewerPort))
			if err != nil {
				ln.Close()
				return fmt.Errorf("the viewer cannot listen on port %d (%v): choose another with --viewer-port, "+
					"or run without it: --no-viewer", o.viewerPort, err)
			}
			out.store = otlp.NewStore(otlp.DefaultLimits)
			metrics := map[string]string{}
			for _, s := range services {
				metrics[s.Name] = "http://127.0.0.1:" + strconv.Itoa(s.Port) + "/metrics"
			}
			title := fmt.Sprintf("Stage %d", o.stage)
			if o.brk != nil {
				title += " — break: " + o.brk.Name
			}
			srv.start(ln, otlp.NewReceiver(out.store))
			srv.start(vln, viewer.New(out.store, viewer.Options{Title: title, Metrics: metrics}))
		}
	}

	out.say("building and starting stage %d: %s ...", o.stage, o.code)
	sys, err := stage.StartLocal(ctx, stage.LocalOptions{
		Dir:   o.dir,
		Stage: o.stage,
		Env: []string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:" + strconv.Itoa(o.otlpPort),
			// Export every half second rather than the SDK's default 5 s, so
			// a request is in the viewer by the time you look. (The reference
			// sets 1 s in code, which takes precedence over the variable.)
			"OTEL_BSP_SCHEDULE_DELAY=500",
		},
		Output: out.line,
	})
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C while building or starting; StartLocal cleaned up
			out.say("interrupted; nothing left running.")
			return nil
		}
		return err
	}
	out.summary(o, services)

	crashed := waitUp(ctx, sys, srv)
	if crashed != nil {
		out.say("%v; stopping the other services ...", crashed)
	} else {
		out.say("stopping the services (Ctrl-C again kills them) ...")
	}
	// A second signal while they drain kills them instead of waiting.
	killCtx, stopKill := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopKill()
	before := spansByTrace(out.store)
	stopErr := sys.Stop(killCtx)
	if out.store != nil {
		n := flushedSpans(before, spansByTrace(out.store))
		out.say("stopped; nothing left running. The services' final flush delivered %s.", spanCount(n))
	} else {
		out.say("stopped; nothing left running.")
	}
	return errors.Join(crashed, stopErr)
}

// waitUp waits for ctx to end, and returns nil, or for a service or one of
// the servers to fail, and returns what happened.
func waitUp(ctx context.Context, sys *stage.LocalSystem, srv *upServers) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srv.errs:
			return err
		case <-tick.C:
			exited := sys.Exited()
			for _, s := range sys.Services() {
				if err, ok := exited[s.Name]; ok {
					detail := ""
					if err != nil {
						detail = " (" + err.Error() + ")"
					}
					return fmt.Errorf("the %s exited unexpectedly%s", s.Name, detail)
				}
			}
		}
	}
}

// upPortFree reports whether a service could listen on port, as the
// services do (every interface).
func upPortFree(port int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func spanCount(n int) string {
	if n == 1 {
		return "1 span"
	}
	return strconv.Itoa(n) + " spans"
}

// upServers runs the OTLP receiver and the viewer until stop.
type upServers struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error // a server that failed while running
}

func newUpServers() *upServers {
	ctx, cancel := context.WithCancel(context.Background())
	return &upServers{ctx: ctx, cancel: cancel, errs: make(chan error, 2)}
}

func (s *upServers) start(ln net.Listener, h http.Handler) {
	s.wg.Go(func() {
		if err := otlp.Serve(s.ctx, ln, h); err != nil {
			s.errs <- fmt.Errorf("the server on %s stopped: %w", ln.Addr(), err)
		}
	})
}

// stop closes the listeners, lets in-flight requests finish, and returns
// the errors of servers that failed.
func (s *upServers) stop() error {
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

// upOutput prints the services' lines, prefixed with the service's name,
// and the CLI's own lines, without interleaving them; and keeps the
// services' lines in the store for the viewer's logs page.
type upOutput struct {
	mu     sync.Mutex
	w      io.Writer
	color  bool
	width  int
	colors map[string]string
	store  *otlp.Store // nil without the built-in viewer
}

// serviceColors are ANSI foreground colours, the same for a service in every stage.
var serviceColors = map[string]string{"die-service": "33", "dice-roller": "36", "frontend": "35"}

func newUpOutput(env *Env, services []stage.Service) *upOutput {
	o := &upOutput{w: env.Stdout, color: env.color(), colors: serviceColors}
	for _, s := range services {
		o.width = max(o.width, len(s.Name))
	}
	return o
}

// line is the runtime's Output: one line a service printed.
func (o *upOutput) line(service string, line []byte) {
	if o.store != nil {
		o.store.AddLogLine(service, line)
	}
	prefix := fmt.Sprintf("%-*s |", o.width, service)
	if o.color {
		code := o.colors[service]
		if code == "" {
			code = "34"
		}
		prefix = "\x1b[" + code + "m" + prefix + "\x1b[0m"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%s %s\n", prefix, line)
}

// say prints a line of the CLI's own.
func (o *upOutput) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.color {
		msg = "\x1b[1m" + msg + "\x1b[0m"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.w, msg)
}

// summary says where everything is once the stage is up: the frontend
// first (what a learner opens), then the APIs, the viewer, the receiver.
func (o *upOutput) summary(opts upOptions, services []stage.Service) {
	var b strings.Builder
	fmt.Fprintf(&b, "stage %d is up (%s):\n", opts.stage, opts.code)
	row := func(name, url, note string) {
		fmt.Fprintf(&b, "  %-12s %-24s %s\n", name, url, note)
	}
	for _, s := range slices.Backward(services) {
		note := "API"
		if s.Name == "frontend" {
			note = "the page: pick a die and roll"
		}
		row(s.Name, "http://localhost:"+strconv.Itoa(s.Port), note)
	}
	otlpURL := "http://localhost:" + strconv.Itoa(opts.otlpPort)
	if opts.viewer {
		row("viewer", "http://localhost:"+strconv.Itoa(opts.viewerPort), "traces, logs and metrics of the services")
		row("otlp", otlpURL, "the built-in OTLP/HTTP receiver the services send to")
	} else {
		row("otlp", otlpURL, "where the services send their telemetry (not the built-in viewer)")
	}
	if opts.brk != nil {
		fmt.Fprintf(&b, "break %s: %s.\n  Look for: %s.\n", opts.brk.Name, opts.brk.Summary, opts.brk.LookFor)
	}
	first := services[len(services)-1]
	if first.Name == "frontend" {
		fmt.Fprintf(&b, "Open http://localhost:%d and roll", first.Port)
	} else {
		fmt.Fprintf(&b, "Try: curl 'http://localhost:%d/roll?die=fair'", first.Port)
	}
	if opts.viewer {
		fmt.Fprintf(&b, ", then open the viewer")
	}
	b.WriteString(". Ctrl-C stops everything.")
	o.say("%s", b.String())
}
