package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopSharedStages()
	removeScratch()
	os.Exit(code)
}

// runningStage is a stage's services running here as processes, after the
// traffic of firstContact and steadyTraffic: tests read its metrics, logs
// and spans, and send no traffic of their own.
type runningStage struct {
	n    int
	urls map[string]string        // service → base URL
	logs map[string]*lockedBuffer // service → its stdout and stderr (JSON log lines)
	sink *otlpSink                // the spans its services exported
	stop func()
}

var shared = struct {
	sync.Mutex
	stages map[int]*sharedRun
}{stages: map[int]*sharedRun{}}

type sharedRun struct {
	once  sync.Once
	stage *runningStage
	err   error
}

// sharedStage starts stage n once per test binary (every test that needs a
// running stage shares it, so CI builds and runs each stage once here) and
// stops it after the last test.
func sharedStage(t *testing.T, n int) *runningStage {
	t.Helper()
	shared.Lock()
	run, ok := shared.stages[n]
	if !ok {
		run = &sharedRun{}
		shared.stages[n] = run
	}
	shared.Unlock()
	run.once.Do(func() {
		began := time.Now()
		run.stage, run.err = launchStage(n)
		if run.err == nil {
			run.err = firstContact(run.stage.urls, n)
		}
		if run.err == nil {
			run.err = steadyTraffic(run.stage.urls, n, 0)
		}
		if run.err == nil {
			run.stage.waitExported(10 * time.Second)
		}
		if run.err != nil && run.stage != nil {
			run.err = fmt.Errorf("%w\n%s", run.err, run.stage.output())
		}
		t.Logf("stage %d: built, started and sent traffic in %s", n, time.Since(began).Round(time.Millisecond))
	})
	if run.err != nil {
		t.Fatalf("stage %d: %v", n, run.err)
	}
	return run.stage
}

func stopSharedStages() {
	shared.Lock()
	defer shared.Unlock()
	for _, run := range shared.stages {
		if run.stage != nil {
			run.stage.stop()
		}
	}
}

// launchStage runs stage n's services here as the workshop runs them
// (stage.StartLocal: one build, free ports, wired to each other), with no
// roll delay, exporting their spans to an OTLP sink of their own.
func launchStage(n int) (s *runningStage, err error) {
	root, err := stage.Root(".")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sink, err := newOTLPSink()
	if err != nil {
		return nil, err
	}
	s = &runningStage{n: n, urls: map[string]string{}, logs: map[string]*lockedBuffer{}, sink: sink}
	services, err := stage.Layout(n)
	if err != nil {
		sink.close()
		return nil, err
	}
	for _, svc := range services {
		s.logs[svc.Name] = &lockedBuffer{}
	}
	sys, err := stage.StartLocal(ctx, stage.LocalOptions{
		Dir: stage.Dir(root, n), Stage: n, FreePorts: true,
		Env: []string{
			"ROLL_MAX_DELAY=0",
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.sink.url,
			"OTEL_BSP_SCHEDULE_DELAY=100", // export within a tenth of a second
		},
		Output: func(service string, line []byte) {
			w := s.logs[service]
			_, _ = w.Write(line)
			_, _ = w.Write([]byte{'\n'})
		},
	})
	s.stop = func() {
		if sys != nil {
			ctx, cancel := context.WithTimeout(context.Background(), stage.DefaultStopTimeout)
			defer cancel()
			_ = sys.Stop(ctx)
		}
		s.sink.close()
	}
	if err != nil {
		s.stop()
		return s, err
	}
	for _, svc := range services {
		s.urls[svc.Name] = sys.URL(svc.Name)
	}
	return s, nil
}

var loggedTraceRe = regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)

// waitExported waits until the spans of every trace the services logged
// reached the sink (the SDK exports in batches, in the background), at
// most within: the tests then say what is missing.
func (s *runningStage) waitExported(within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		got := map[string]bool{}
		for _, sp := range s.sink.received() {
			got[sp.traceID] = true
		}
		missing := false
		for _, out := range s.logs {
			for _, m := range loggedTraceRe.FindAllStringSubmatch(out.String(), -1) {
				missing = missing || !got[m[1]]
			}
		}
		if !missing {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// output is every service's output, for a failure message.
func (s *runningStage) output() string {
	var b strings.Builder
	for _, svc := range sortedKeys(s.logs) {
		fmt.Fprintf(&b, "--- stage %d %s:\n%s\n", s.n, svc, s.logs[svc].String())
	}
	return b.String()
}

// trafficClient answers within a bound: a hung service fails the test, not CI.
var trafficClient = &http.Client{Timeout: 30 * time.Second}

// call GETs url and returns the status code.
func call(url string) (int, error) {
	resp, err := trafficClient.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// expect GETs url and checks the status code.
func expect(url string, want int) error {
	code, err := call(url)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("GET %s: %d, want %d", url, code, want)
	}
	return nil
}

// untilFails GETs url until it answers 5xx, at most tries times.
func untilFails(url string, tries int) error {
	for range tries {
		code, err := call(url)
		if err != nil {
			return err
		}
		if code >= 500 {
			return nil
		}
	}
	return fmt.Errorf("GET %s: %d tries and not one failure", url, tries)
}

// untilSucceeds GETs url until it answers 200, at most tries times.
func untilSucceeds(url string, tries int) error {
	for range tries {
		code, err := call(url)
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("GET %s: %d tries and not one success", url, tries)
}

// entry is where a learner's requests come in: the frontend from stage 2 on,
// so every service of the stage sees them.
func entry(urls map[string]string) string {
	if u, ok := urls["frontend"]; ok {
		return u
	}
	return urls["dice-roller"]
}

// firstContact sends each kind of request a learner sends, once, failures
// included: fair rolls, risky rolls until one fails (the first error), an
// unknown die, an unmatched route, the die-service's lookups (one of an
// unknown die) and, for stage 4, async batches (one too big, risky ones
// until one fails). Every label value a dashboard selects appears here.
func firstContact(urls map[string]string, n int) error {
	in, roller := entry(urls), urls["dice-roller"]
	steps := []func() error{
		func() error { return expect(in+"/", http.StatusOK) },
		func() error { return expect(in+"/roll?die=fair", http.StatusOK) },
		func() error { return untilFails(in+"/roll?die=risky", 300) }, // 10% per roll
		func() error { return expect(in+"/roll?die=nope", http.StatusBadRequest) },
		func() error { return expect(roller+"/roll?die=fair", http.StatusOK) },
		func() error { _, err := call(roller + "/no-such-route"); return err },
	}
	if u, ok := urls["die-service"]; ok {
		steps = append(steps,
			func() error { return expect(u+"/dice", http.StatusOK) },
			func() error { return expect(u+"/dice?identifier=fair", http.StatusOK) },
			func() error { return expect(u+"/dice?identifier=nope", http.StatusNotFound) },
		)
	}
	if n >= 4 {
		steps = append(steps,
			func() error { return expect(in+"/roll-async?die=fair&times=3", http.StatusOK) },
			func() error { return expect(roller+"/roll-async?die=fair&times=3", http.StatusOK) },
			func() error { return expect(in+"/roll-async?die=fair&times=99", http.StatusBadRequest) },
			func() error { return untilFails(in+"/roll-async?die=risky&times=5", 100) }, // 41% per batch
		)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("first contact with stage %d: %w", n, err)
		}
	}
	return nil
}

// steadyTraffic sends only requests that cannot fail (fair dice, known
// lookups), through every service. A panel that is non-zero only after both
// rounds of traffic shows a failure of the first round only if its series
// existed before that failure (counters born at zero). With busy > 0, stage
// 4's dice-roller is kept rolling batches that long, so a scrape sees rolls
// in progress.
func steadyTraffic(urls map[string]string, n int, busy time.Duration) error {
	in, roller := entry(urls), urls["dice-roller"]
	urlsToCall := []string{in + "/roll?die=fair", in + "/roll?die=fair", roller + "/roll?die=fair"}
	if u, ok := urls["die-service"]; ok {
		urlsToCall = append(urlsToCall, u+"/dice", u+"/dice?identifier=fair")
	}
	if n >= 4 {
		urlsToCall = append(urlsToCall, in+"/roll-async?die=fair&times=3", roller+"/roll-async?die=fair&times=20")
	}
	for _, u := range urlsToCall {
		if err := expect(u, http.StatusOK); err != nil {
			return fmt.Errorf("steady traffic to stage %d: %w", n, err)
		}
	}
	if n < 4 || busy <= 0 {
		return nil
	}
	// A few batches at a time, each roll up to the service's delay.
	deadline := time.Now().Add(busy)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			var err error
			for err == nil && time.Now().Before(deadline) {
				err = expect(roller+"/roll-async?die=fair&times=20", http.StatusOK)
			}
			errs <- err
		}()
	}
	var all []error
	for range cap(errs) {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
