package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// Options say what to check and how to run it.
type Options struct {
	Stage   int
	Dir     string // the stage module
	Runtime string // "docker", "local" or "auto"
	// Progress receives one line per phase ("building…"), for people.
	Progress io.Writer
	// Wait bounds how long the spans of the probe may take to arrive.
	Wait time.Duration
}

// Outcome is the result of one check.
type Outcome struct {
	Check
	Passed  bool
	Failure *Failure
	Err     string // the failure as one line, also set when Failure is nil
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
	// The receiver listens on every interface: containers reach it through
	// host.docker.internal.
	sess, err := session.Start(ctx, session.Options{
		Stage: o.Stage, Dir: o.Dir, Runtime: res.Runtime, FreePorts: true,
		Env: []string{"ROLL_MAX_DELAY=100ms"}, Output: obs.AddLog, Receiver: "0.0.0.0:0",
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
	store := sess.Store
	stop := func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = sess.StopServices(stopCtx)
	}

	fmt.Fprintln(progress, "sending traffic…")
	p := &prober{client: &http.Client{Timeout: 10 * time.Second}, obs: obs}
	probe(ctx, p, obs, sess)
	wait := o.Wait
	if wait == 0 {
		wait = 8 * time.Second
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	_ = store.WaitFor(waitCtx, func(*otlp.Store) bool { return obs.expectedArrived() })
	cancel()
	for _, s := range obs.Services {
		obs.Metrics[s], obs.MetricsErr[s] = scrape(ctx, p.client, sess.URL(s)+"/metrics")
	}

	// The last request is answered just before SIGTERM: only a flush on
	// shutdown gets its spans out before the batch timer would.
	p.do(ctx, "last-roll", http.MethodGet, sess.URL("dice-roller")+"/roll?die=fair")
	fmt.Fprintln(progress, "stopping the stage…")
	stop()
	lastCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_ = store.WaitFor(lastCtx, func(*otlp.Store) bool {
		_, _, ok := obs.spanFor("last-roll", "dice-roller", "GET /roll", "Server")
		return ok
	})
	cancel()
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

// probe sends the stage's known traffic.
func probe(ctx context.Context, p *prober, obs *Observation, sys *session.Session) {
	roller := sys.URL("dice-roller")
	p.do(ctx, "roll", http.MethodGet, roller+"/roll?die=fair")
	p.do(ctx, "missing-die", http.MethodGet, roller+"/roll")
	p.do(ctx, "unknown-die", http.MethodGet, roller+"/roll?die=no-such-die")
	p.do(ctx, "wrong-method", http.MethodPost, roller+"/roll?die=fair")
	if obs.has("die-service") {
		ds := sys.URL("die-service")
		p.do(ctx, "dice-list", http.MethodGet, ds+"/dice")
		p.do(ctx, "dice-spec", http.MethodGet, ds+"/dice?identifier=fair")
		p.do(ctx, "unknown-identifier", http.MethodGet, ds+"/dice?identifier=no-such-die")
	}
	if obs.has("frontend") {
		fe := sys.URL("frontend")
		p.do(ctx, "page", http.MethodGet, fe+"/")
		p.do(ctx, "frontend-roll", http.MethodGet, fe+"/roll?die=fair")
		p.do(ctx, "frontend-unknown-die", http.MethodGet, fe+"/roll?die=no-such-die")
	}
	if obs.Stage >= 4 {
		p.do(ctx, "async", http.MethodGet, sys.URL("frontend")+"/roll-async?die=fair&times="+strconv.Itoa(asyncTimes))
		for name, times := range map[string]string{"times-missing": "", "times-not-int": "&times=abc", "times-zero": "&times=0", "times-too-big": "&times=21"} {
			p.do(ctx, name, http.MethodGet, roller+"/roll-async?die=fair"+times)
		}
	}
}

// expectedArrived reports whether the spans the probe should produce are in.
func (o *Observation) expectedArrived() bool {
	type want struct{ probe, service, name string }
	wants := []want{{"roll", "dice-roller", "GET /roll"}}
	if o.has("frontend") {
		wants = append(wants, want{"frontend-roll", "frontend", "GET /roll"}, want{"frontend-roll", "dice-roller", "GET /roll"})
	}
	if o.has("die-service") {
		wants = append(wants, want{"frontend-roll", "die-service", "GET /dice"}, want{"dice-spec", "die-service", "GET /dice"})
	}
	if o.Stage >= 4 {
		wants = append(wants, want{"async", "dice-roller", "GET /roll-async"})
	}
	for _, w := range wants {
		t, _, _ := o.traceOf(w.probe)
		if _, ok := findSpan(t, w.service, w.name, ""); !ok {
			return false
		}
	}
	if o.Stage >= 4 {
		n := 0
		for _, t := range o.Store.Traces(0) {
			for _, s := range t.Spans {
				if strings.HasPrefix(s.Name, "async_roll_") {
					n++
				}
			}
		}
		return n >= asyncTimes
	}
	return true
}
