package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// asyncTimes is the batch size of the async probe: ten rolls make concurrent
// and sequential batches easy to tell apart.
const asyncTimes = 10

// What the check sets in the services' environment, and the waits those
// settings bound.
const (
	// exportInterval is the batch span processor's delay
	// (OTEL_BSP_SCHEDULE_DELAY): a service exports what ended within it.
	exportInterval = 200 * time.Millisecond
	// exportWait bounds the wait for a service's first export after the
	// traffic: one interval, and the export's own time on a busy machine. A
	// service that has not exported by then (it exports nothing yet, or on a
	// timer of its own) is stopped anyway: its final flush, if it has one,
	// delivers what is left.
	exportWait = exportInterval + 400*time.Millisecond
	// drain is the services' SHUTDOWN_TIMEOUT: nothing is in flight when the
	// check stops them, so the wait for a stop is this and their flush.
	drain = 2 * time.Second
)

// Options say what to check and how to run it.
type Options struct {
	Stage   int
	Dir     string // the stage module
	Runtime string // "docker", "local" or "auto"
	// Progress receives one line per phase ("building…"), for people.
	Progress io.Writer
}

// Outcome is the result of one check.
type Outcome struct {
	Check
	Passed  bool
	Failure *Failure
	Err     string // the failure as one line, also set when Failure is nil
}

// Places are where to look for a failure: the failure's own places when it
// names some, else the check's.
func (o Outcome) Places() []Place {
	if o.Failure != nil && len(o.Failure.where) > 0 {
		if ps := resolve(o.Stage, o.Failure.where); len(ps) > 0 {
			return ps
		}
	}
	return o.Where
}

// HintText is the hint for this outcome: the failure's own, else the check's.
func (o Outcome) HintText() string {
	if o.Failure != nil && o.Failure.hint != "" {
		return o.Failure.hint
	}
	return o.Hint
}

// StepToRead is the lesson step to reread: the failure's own, else the check's.
func (o Outcome) StepToRead() string {
	if o.Failure != nil && o.Failure.step != "" {
		return o.Failure.step
	}
	return o.Step
}

// Result is a whole check run.
type Result struct {
	Stage    int
	Dir      string
	Runtime  string
	Outcomes []Outcome
	// Setup is set when the stage could not be built or started: no check
	// ran. Build errors carry the compiler's output.
	Setup    error
	LogTail  map[string][]string // the last lines of each service, for crashes
	Duration time.Duration
}

// Passed counts the checks that passed.
func (r *Result) Passed() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Passed {
			n++
		}
	}
	return n
}

// OK reports whether every check passed.
func (r *Result) OK() bool {
	return r.Setup == nil && len(r.Outcomes) > 0 && r.Passed() == len(r.Outcomes)
}

// Run runs the stage, probes it, and evaluates every check of the stage.
// Whatever happens (a failed build, a crash, ctx cancelled by Ctrl-C), the
// stage is stopped and nothing is left running when it returns.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	services, err := stage.Layout(o.Stage)
	if err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Result{Stage: o.Stage, Dir: o.Dir, LogTail: map[string][]string{}}
	defer func() { res.Duration = time.Since(start) }()

	if res.Runtime, err = chooseRuntime(ctx, o.Runtime); err != nil {
		return nil, err
	}
	obs := &Observation{Stage: o.Stage, Answers: map[string]*Answer{},
		Metrics: map[string]map[string]*dto.MetricFamily{}, MetricsErr: map[string]error{}}
	for _, s := range services {
		obs.Services = append(obs.Services, s.Name)
	}

	fmt.Fprintf(progress, "building and starting stage %d from %s (%s runtime)…\n", o.Stage, o.Dir, res.Runtime)
	// The receiver listens on loopback, or for containers on the address
	// they reach as host.docker.internal: never on the room's network.
	receiver, err := receiverAddr(ctx, res.Runtime)
	if err != nil {
		return nil, err
	}
	sess, err := session.Start(ctx, session.Options{
		Stage: o.Stage, Dir: o.Dir, Runtime: res.Runtime, FreePorts: true, Drain: drain,
		Env:    []string{"ROLL_MAX_DELAY=100ms", "OTEL_BSP_SCHEDULE_DELAY=" + strconv.Itoa(int(exportInterval.Milliseconds()))},
		Output: obs.AddLog, Receiver: receiver,
	})
	if err != nil {
		res.Setup = err
		res.fillLogTail(obs)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, nil
	}
	defer sess.Close()
	obs.Store = sess.Store

	fmt.Fprintln(progress, "sending traffic…")
	p := &prober{client: &http.Client{Timeout: 10 * time.Second}, obs: obs}
	probe(ctx, p, obs, sess)
	for _, s := range obs.Services {
		obs.Metrics[s], obs.MetricsErr[s] = scrape(ctx, p.client, sess.URL(s)+"/metrics")
	}
	// What arrived is evaluated once every service has stopped: its final
	// flush has then delivered all it had, and nothing is waited for that
	// may never come.
	fmt.Fprintln(progress, "stopping the stage…")
	stopAfterExport(ctx, p, obs, sess)
	for _, s := range obs.Services {
		if note := obs.LogsDropped(s); note != "" {
			fmt.Fprintln(progress, note)
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	for _, c := range Catalog(o.Stage) {
		res.Outcomes = append(res.Outcomes, evaluate(c, obs))
	}
	res.fillLogTail(obs)
	return res, nil
}

func (r *Result) fillLogTail(obs *Observation) {
	for _, s := range obs.Services {
		lines := obs.Logs(s)
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		if note := obs.LogsDropped(s); note != "" {
			lines = append([]string{note}, lines...)
		}
		r.LogTail[s] = lines
	}
}

// evaluate runs one check; a check that panics fails, it does not take the
// report down with it.
func evaluate(c Check, obs *Observation) (out Outcome) {
	out.Check = c
	defer func() {
		if r := recover(); r != nil {
			out.Passed, out.Err = false, fmt.Sprintf("the check itself failed: %v", r)
		}
	}()
	err := c.run(obs)
	if err == nil {
		out.Passed = true
		return out
	}
	out.Err = err.Error()
	var f *Failure
	if errors.As(err, &f) {
		out.Failure = f
	} else {
		out.Failure = &Failure{Expected: "the check to run", Seen: err.Error()}
	}
	return out
}

func chooseRuntime(ctx context.Context, want string) (string, error) {
	switch want {
	case "docker":
		if _, err := runtime.DetectEngine(ctx); err != nil {
			return "", err
		}
		return "docker", nil
	case "local":
		return "local", nil
	case "", "auto":
		if _, err := runtime.DetectEngine(ctx); err == nil {
			return "docker", nil
		}
		return "local", nil
	}
	return "", fmt.Errorf("unknown runtime %q; valid: docker, local, auto", want)
}

// receiverAddr is where the OTLP receiver of a check listens (any port).
func receiverAddr(ctx context.Context, rt string) (string, error) {
	if rt != "docker" {
		return "127.0.0.1:0", nil
	}
	host, err := runtime.ReceiverHost(ctx)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, "0"), nil
}

// probe sends the stage's known traffic.
func probe(ctx context.Context, p *prober, obs *Observation, sys *session.Session) {
	roller := sys.URL("dice-roller")
	p.do(ctx, "roll", "dice-roller", http.MethodGet, roller+"/roll?die=fair")
	p.do(ctx, "missing-die", "dice-roller", http.MethodGet, roller+"/roll")
	p.do(ctx, "unknown-die", "dice-roller", http.MethodGet, roller+"/roll?die=no-such-die")
	p.do(ctx, "wrong-method", "dice-roller", http.MethodPost, roller+"/roll?die=fair")
	if obs.has("die-service") {
		ds := sys.URL("die-service")
		p.do(ctx, "dice-list", "die-service", http.MethodGet, ds+"/dice")
		p.do(ctx, "dice-spec", "die-service", http.MethodGet, ds+"/dice?identifier=fair")
		p.do(ctx, "unknown-identifier", "die-service", http.MethodGet, ds+"/dice?identifier=no-such-die")
	}
	if obs.has("frontend") {
		fe := sys.URL("frontend")
		p.do(ctx, "page", "frontend", http.MethodGet, fe+"/")
		p.do(ctx, "frontend-roll", "frontend", http.MethodGet, fe+"/roll?die=fair")
		p.do(ctx, "frontend-unknown-die", "frontend", http.MethodGet, fe+"/roll?die=no-such-die")
	}
	if obs.Stage >= 4 {
		p.do(ctx, "async", "frontend", http.MethodGet, sys.URL("frontend")+"/roll-async?die=fair&times="+strconv.Itoa(asyncTimes))
		for name, times := range map[string]string{"times-missing": "", "times-not-int": "&times=abc", "times-zero": "&times=0", "times-too-big": "&times=21"} {
			p.do(ctx, name, "dice-roller", http.MethodGet, roller+"/roll-async?die=fair"+times)
		}
	}
}

// syncPaths are requests each service answers at once, with a span.
var syncPaths = map[string]string{"dice-roller": "/roll", "frontend": "/", "die-service": "/dice"}

// stopAfterExport stops each service once its batch timer has exported what
// the traffic left queued, and tests the final flush on the way. Each
// service gets one more request (sync-<service>), whose span is in the first
// export after the traffic; once that arrived, or after exportWait, the
// service is stopped and its final flush delivers whatever is left. The
// dice-roller answers one more request between that export and SIGTERM,
// last-roll: its span is then queued a whole export interval before the
// next export, so only the flush on shutdown delivers it (the flush check).
// Stopping after the export keeps a stage without that flush from failing
// the other span checks too: the traffic's spans came by the timer.
func stopAfterExport(ctx context.Context, p *prober, obs *Observation, sess *session.Session) {
	syncs := map[string]*Answer{}
	for _, s := range obs.Services {
		syncs[s] = p.do(ctx, "sync-"+s, s, http.MethodGet, sess.URL(s)+syncPaths[s])
	}
	var wg sync.WaitGroup
	for _, s := range obs.Services {
		wg.Go(func() {
			wait, cancel := context.WithTimeout(ctx, exportWait)
			_ = obs.Store.WaitFor(wait, func(st *otlp.Store) bool { return exportedAfter(st, s, syncs[s]) })
			cancel()
			if s == "dice-roller" { // the only writer of obs.Answers meanwhile
				p.do(ctx, "last-roll", s, http.MethodGet, sess.URL(s)+"/roll")
			}
			// Interrupted or not, the service drains and flushes.
			_ = sess.StopService(context.WithoutCancel(ctx), s)
		})
	}
	wg.Wait()
}

// exportedAfter reports whether a span of service for the request a has
// arrived: in a's trace, or, from a service that does not continue the
// caller's trace, any span of the service that started after a was sent.
func exportedAfter(st *otlp.Store, service string, a *Answer) bool {
	if t, ok := st.Trace(a.TraceID); ok {
		for _, s := range t.Spans {
			if s.Service == service {
				return true
			}
		}
	}
	for _, t := range st.Traces(0) {
		for _, s := range t.Spans {
			if s.Service == service && !s.Start.Before(a.Sent) {
				return true
			}
		}
	}
	return false
}
