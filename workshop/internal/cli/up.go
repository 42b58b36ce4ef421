package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
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
}

func runUp(env *Env, args []string) error {
	fs := newFlags(env, "up", fmt.Sprintf("N [--exercise] [--break NAME|list] [--no-viewer] [--viewer-port %d] [--otlp-port %d]", viewer.DefaultPort, otlp.DefaultPort))
	exercise := fs.Bool("exercise", false, "run your code in exercises/stageN instead of the reference")
	noViewer := fs.Bool("no-viewer", false, "start neither the built-in OTLP receiver nor the viewer: the telemetry goes to whatever listens on --otlp-port")
	breakName := fs.String("break", "", "run the reference with the classic instrumentation mistake `NAME` switched in (list: name them all)")
	viewerPort := fs.Int("viewer-port", viewer.DefaultPort, "port of the telemetry viewer, on localhost")
	otlpPort := fs.Int("otlp-port", otlp.DefaultPort, "port of the OTLP/HTTP receiver the services send their telemetry to")
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
	}
	if o.viewer {
		// The receiver and the viewer outlive the services, so the spans the
		// services flush on their way out are still received.
		opts.Receiver, opts.ReceiverMayBeTaken = "0.0.0.0:"+strconv.Itoa(o.otlpPort), true
		opts.Viewer = "127.0.0.1:" + strconv.Itoa(o.viewerPort)
		opts.ViewerTitle = fmt.Sprintf("Stage %d", o.stage)
		if o.brk != nil {
			opts.ViewerTitle += " — break: " + o.brk.Name
		}
	} else {
		opts.Env = append(opts.Env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:"+strconv.Itoa(o.otlpPort))
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
	}
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
	n, stopErr := s.StopServices(killCtx)
	if s.Store != nil {
		out.say("stopped; nothing left running. The services' final flush delivered %s.", spanCount(n))
	} else {
		out.say("stopped; nothing left running.")
	}
	return errors.Join(crashed, stopErr)
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
