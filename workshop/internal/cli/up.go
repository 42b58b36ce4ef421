package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/class"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
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
	share      *class.ShareOptions // --share: where the receiver copies the telemetry to; nil without
}

func runUp(env *Env, args []string) error {
	fs := newFlags(env, "up", fmt.Sprintf("N [--exercise] [--break NAME|list] [--no-viewer] [--share[=URL]] [--viewer-port %d] [--otlp-port %d]", viewer.DefaultPort, otlp.DefaultPort))
	exercise := fs.Bool("exercise", false, "run your code in exercises/stageN instead of the reference")
	noViewer := fs.Bool("no-viewer", false, "start neither the built-in OTLP receiver nor the viewer: the telemetry goes to whatever listens on --otlp-port")
	breakName := fs.String("break", "", "run the reference with the classic instrumentation mistake `NAME` switched in (list: name them all)")
	viewerPort := fs.Int("viewer-port", viewer.DefaultPort, "port of the telemetry viewer, on localhost")
	otlpPort := fs.Int("otlp-port", otlp.DefaultPort, "port of the OTLP/HTTP receiver the services send their telemetry to")
	var share shareFlag
	fs.Var(&share, "share", "also send the services' telemetry to the class this checkout joined (--share=URL: to that OTLP/HTTP collector); the viewer keeps it all")
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
	if share.set != "" && *noViewer {
		return usagef("--share copies what the built-in receiver gets: it does not combine with --no-viewer")
	}
	if o.share, err = shareOptions(root, share); err != nil {
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
	sweepLocal(env)          // a killed earlier run's services would hold the ports
	defer stage.KillStrays() // what slipped out of a stopped service unseen
	if err := stage.CheckPorts(o.stage, services); err != nil {
		return err // before anything is built
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

	opts := session.Options{
		Stage: o.stage, Dir: o.dir, Runtime: "local",
		// Export every half second rather than the SDK's default 5 s, so a
		// request is in the viewer by the time you look.
		Env:    []string{"OTEL_BSP_SCHEDULE_DELAY=500"},
		Output: out.line,
		// The learner's own code in the learner's terminal: what they set
		// there (OTEL_*, ROLL_MAX_DELAY...) reaches it.
		InheritEnv: true,
	}
	if o.brk != nil {
		opts.Env = append(opts.Env, o.brk.Env...)
	}
	if o.viewer {
		// The receiver and the viewer outlive the services, so the spans the
		// services flush on their way out are still received.
		opts.Receiver, opts.ReceiverMayBeTaken = otlp.LoopbackAddr(o.otlpPort), true
		opts.Viewer = "127.0.0.1:" + strconv.Itoa(o.viewerPort)
		opts.ViewerTitle = fmt.Sprintf("Stage %d", o.stage)
		if o.brk != nil {
			opts.ViewerTitle += " — break: " + o.brk.Name
		}
	} else {
		opts.Env = append(opts.Env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:"+strconv.Itoa(o.otlpPort))
	}

	var sharer *class.Sharer // closed after the session: it gets the final flush too
	defer func() { closeSharer(out.say, sharer) }()
	if o.viewer && o.share != nil {
		so := *o.share
		so.Say = out.say
		sharer = class.NewSharer(so)
		opts.OnExport = sharer.Export
	}

	out.say("building and starting stage %d: %s ...", o.stage, o.code)
	s, err := session.Start(ctx, opts)
	var listenErr *session.ListenError
	switch {
	case errors.As(err, &listenErr):
		return fmt.Errorf("the viewer cannot listen on port %d (%v): choose another with --viewer-port, "+
			"or run without it: --no-viewer", o.viewerPort, listenErr.Err)
	case err != nil && ctx.Err() != nil: // Ctrl-C while building or starting; Start cleaned up
		out.say("interrupted; nothing left running.")
		return nil
	case err != nil:
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if s.ReceiverTaken {
		o.viewer = false
		out.say("port %d is already taken (the Docker stack's Alloy?): the services send their telemetry there, "+
			"and the built-in viewer is off.", o.otlpPort)
		if o.share != nil {
			out.say("--share needs the built-in receiver: your telemetry is not shared with the class.")
		}
	}
	if sharer != nil && !s.ReceiverTaken {
		out.say("sharing: the services' telemetry also goes to %s, as %s.", o.share.Endpoint, o.share.Learner)
	}
	// Last, so that its closing line ("Ctrl-C stops everything") is the
	// last thing printed before the services' own lines.
	out.summary(o, services)

	crashed := s.Wait(ctx)
	if crashed != nil {
		out.say("%v; stopping the other services ...", crashed)
	} else {
		out.say("stopping the services (Ctrl-C again kills them) ...")
	}
	// A second signal while they drain kills them instead of waiting.
	killCtx, stopKill := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopKill()
	stopping := time.Now()
	_, busy := out.pending(stopping)
	n, stopErr := s.StopServices(killCtx)
	if s.Store != nil {
		// The requests of the last moments, and those the services finished
		// while stopping: their spans can only have left in the final flush.
		pending, _ := out.pending(stopping)
		lost := 0
		for _, id := range pending {
			if _, ok := s.Store.Trace(id); !ok {
				lost++
			}
		}
		out.say("stopped; nothing left running. %s", flushSummary(o.stage, n, lost, len(pending) > 0, busy))
	} else {
		out.say("stopped; nothing left running.")
	}
	return errors.Join(crashed, stopErr)
}

// flushWindow is how far back a request may have been logged and its spans
// still wait in the batcher: `up` has the services export every 0.5 s.
const flushWindow = 2 * time.Second

// flushSummary says what the services' final flush delivered and whether
// that is what was expected. n spans arrived during shutdown; lost of the
// requests logged just before (with a trace id) never got their spans out;
// traced is whether there were such requests; busy whether the services
// logged anything in that window at all.
func flushSummary(stage, n, lost int, traced, busy bool) string {
	compare := fmt.Sprintf("workshop up %d --break no-flush", stage)
	switch {
	case lost > 0:
		return fmt.Sprintf("But %d request(s) answered in the last moments never had their spans arrive (%s did, "+
			"while the services stopped): they were waiting in the batcher, and nothing flushed it on the way out. The tracer "+
			"provider's Shutdown must run on exit (step 1.1); `%s` shows this mistake on purpose.", lost, spanCount(n), compare)
	case n > 0:
		return fmt.Sprintf("The services' final flush delivered %s: the spans of the last requests, still waiting in the "+
			"batcher when you stopped. Without that flush on shutdown they would be lost (see it with `%s`).", spanCount(n), compare)
	case busy && !traced:
		return fmt.Sprintf("The final flush delivered no span, though the services were answering requests just before you stopped: "+
			"their spans were waiting in the batcher and are lost, unless nothing was traced. Does the service shut its tracer "+
			"provider down on exit? (`%s` shows what a missing flush looks like.)", compare)
	}
	return "The final flush delivered no span, as expected: no request came in during the last moments, so the batcher had " +
		"already sent everything (it exports every half second). Stop right after a roll to see the flush at work."
}

func spanCount(n int) string {
	if n == 1 {
		return "1 span"
	}
	return strconv.Itoa(n) + " spans"
}

// upOutput prints the services' lines, prefixed with the service's name,
// and the CLI's own lines, without interleaving them.
type upOutput struct {
	mu     sync.Mutex
	w      io.Writer
	color  bool
	width  int
	colors map[string]string

	// What the services logged lately, to tell a flush that had nothing to
	// send from a missing one: the trace ids of their lines (a few, recent),
	// and when they last logged anything after starting.
	started  time.Time
	lastLine time.Time
	traced   map[string]time.Time
}

// maxTraced bounds the trace ids remembered: only the last moments count.
const maxTraced = 4096

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
	o.remember(line, time.Now())
}

// remember notes when a service logged, and the trace id of the line.
// Called with o.mu held.
func (o *upOutput) remember(line []byte, now time.Time) {
	if o.started.IsZero() {
		return // the services' startup lines are no request
	}
	o.lastLine = now
	var l struct {
		TraceID string `json:"trace_id"`
	}
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &l) != nil || l.TraceID == "" {
		return
	}
	if o.traced == nil {
		o.traced = map[string]time.Time{}
	}
	if len(o.traced) >= maxTraced {
		for id, at := range o.traced {
			if now.Sub(at) > flushWindow {
				delete(o.traced, id)
			}
		}
		if len(o.traced) >= maxTraced {
			return
		}
	}
	o.traced[l.TraceID] = now
}

// pending lists the trace ids logged since flushWindow before stop (and
// after it): their spans may still wait in the batcher. busy says whether
// anything at all was logged in that window before stop.
func (o *upOutput) pending(stop time.Time) (ids []string, busy bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, at := range o.traced {
		if stop.Sub(at) <= flushWindow {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, !o.lastLine.IsZero() && stop.Sub(o.lastLine) <= flushWindow && !o.lastLine.After(stop)
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
	o.mu.Lock()
	o.started = time.Now()
	o.mu.Unlock()
}
