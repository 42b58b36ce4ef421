package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

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
	// ProbeBudget bounds the whole probe traffic; 0 is probeBudget.
	ProbeBudget time.Duration
}

// Outcome is the result of one check.
type Outcome struct {
	Check
	Passed bool
	// Skipped: not evaluated, because what it reads never came (the stage
	// did not answer); Err says why. A skipped check has not passed.
	Skipped bool
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

// Skipped counts the checks that were skipped.
func (r *Result) Skipped() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Skipped {
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
	p := newProber(obs, sess.URL, o.ProbeBudget)
	defer p.client.CloseIdleConnections()
	p.sendTraffic(ctx)
	if a := obs.Stalled; a != nil {
		fmt.Fprintf(progress, "the %s did not answer %s in time: the stage hangs, nothing more is sent.\n", a.Service, a.Request())
	}
	// What arrived is evaluated once every service has stopped: its final
	// flush has then delivered all it had, and nothing is waited for that
	// may never come.
	fmt.Fprintln(progress, "stopping the stage…")
	stopAfterExport(ctx, p, sess)
	for _, s := range obs.Services {
		if note := obs.LogsDropped(s); note != "" {
			fmt.Fprintln(progress, note)
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	res.Outcomes = evaluateAll(Catalog(o.Stage), obs)
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

// evaluateAll evaluates the checks of a stage in report order. When the
// stage did not answer the probe traffic, that is said once, by the first
// check that needs the traffic, and the others that need it are skipped:
// their failures would only repeat it, with hints that blame the wrong code.
func evaluateAll(checks []Check, obs *Observation) []Outcome {
	var out []Outcome
	cause := ""
	for _, c := range checks {
		switch {
		case obs.Stalled == nil || c.needs != needsTraffic:
			out = append(out, evaluate(c, obs))
		case cause == "":
			cause = c.ID
			out = append(out, Outcome{Check: c, Failure: stalled(obs.Stalled)})
			out[len(out)-1].Err = out[len(out)-1].Failure.Error()
		default:
			out = append(out, Outcome{Check: c, Skipped: true,
				Err: "skipped: the stage did not answer the checks' requests (check " + cause + " says why)"})
		}
	}
	return out
}

// stalled is the failure of a stage that did not answer a probe in time.
func stalled(a *Answer) *Failure {
	f := fail(fmt.Sprintf("the %s to answer %s", a.Service, a.Request()),
		fmt.Sprintf("no answer after %s, though it answers /healthz: it hangs on its requests, so every check that needs an answer was skipped. (%v)",
			a.Done.Sub(a.Sent).Round(100*time.Millisecond), a.Err)).at(routesOf(a.Service))
	f.hint = stalledHint
	return f
}

// stalledHint is the hint of a stage that hangs.
const stalledHint = "A request that never answers waits for something that does not come: a channel nobody sends on, a lock held elsewhere, " +
	"a WaitGroup or errgroup Wait for a goroutine that never returns, or a call to another service with no timeout. " +
	"Run the stage (workshop up) and send the request yourself; a goroutine dump (kill -QUIT the service) shows where it waits."

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
//
// A stage that did not answer the traffic is sent nothing more: it is
// stopped at once.
func stopAfterExport(ctx context.Context, p *prober, sess *session.Session) {
	obs := p.obs
	syncs := map[string]*Answer{}
	for _, pr := range obs.probesOf(phaseSync) {
		if obs.Stalled == nil {
			syncs[pr.service] = p.send(ctx, pr)
		}
	}
	lasts := obs.probesOf(phaseLast)
	var wg sync.WaitGroup
	for _, s := range obs.Services {
		wg.Go(func() {
			if obs.Stalled == nil {
				wait, cancel := context.WithTimeout(ctx, exportWait)
				_ = obs.Store.WaitFor(wait, func(st *otlp.Store) bool { return exportedAfter(st, s, syncs[s]) })
				cancel()
				for _, pr := range lasts {
					if pr.service == s { // the only writer of obs.Answers meanwhile
						p.send(ctx, pr)
					}
				}
			}
			// Interrupted or not, the service drains and flushes.
			_ = sess.StopService(context.WithoutCancel(ctx), s)
		})
	}
	wg.Wait()
}
