package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// asyncTimes is the batch size of the async probe: ten rolls make concurrent
// and sequential batches easy to tell apart.
const asyncTimes = 10

// phase is when a probe is sent.
type phase int

const (
	// phaseTraffic: the known traffic, first, in table order.
	phaseTraffic phase = iota
	// phaseMetrics: each service's /metrics, once the traffic has answered.
	phaseMetrics
	// phaseSync: one more request per service after the scrape, whose span is in
	// the first export after the traffic (see stopAfterExport).
	phaseSync
	// phaseLast: the dice-roller's request between that export and SIGTERM,
	// whose span only the flush on shutdown delivers (the flush check).
	phaseLast
)

// probe is one request of a check run: what it asks of which service, from
// which stage on, and what the checks expect of its answer.
type probe struct {
	name    string // the key its answer is found by ("roll")
	service string
	method  string
	target  string // path and query
	first   int    // the first stage that sends it (its service must exist too)
	when    phase
	status  int // the status the checks expect
	// routeSpan is the server span named after the route that this request
	// makes its service produce; the first of each service is the one the
	// server-spans check looks for.
	routeSpan string
	// refused is set on bad input: what the error must say, why it is bad
	// and where it is refused.
	refused *refusal
}

// refusal is what a bad request's answer must say.
type refusal struct {
	mention []string // the error message must contain each (case-insensitive)
	why     string   // for the learner
	// withDieService is added to why in the stages that have a die-service.
	withDieService string
	where          []*place
}

const timesWhy = "times must be a whole number from 1 to 20"

// probes is the traffic of a check, in the order it is sent. Every answer,
// span, metric and log line the checks read comes from these requests.
var probes = []probe{
	{name: "roll", service: "dice-roller", method: http.MethodGet, target: "/roll?die=fair", first: 1, status: http.StatusOK, routeSpan: "GET /roll"},
	{name: "missing-die", service: "dice-roller", method: http.MethodGet, target: "/roll", first: 1, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"die"}, why: "the die parameter is missing", where: []*place{pRoll}}},
	{name: "unknown-die", service: "dice-roller", method: http.MethodGet, target: "/roll?die=no-such-die", first: 1, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"fair", "risky"}, why: "an unknown die is the caller's mistake, so 4xx; a 5xx would say the server failed",
			withDieService: " (503 is for a die-service that cannot answer)", where: []*place{pResolveDie, pDieLookup}}},
	{name: "wrong-method", service: "dice-roller", method: http.MethodPost, target: "/roll?die=fair", first: 1, status: http.StatusMethodNotAllowed,
		refused: &refusal{mention: nil, why: "/roll exists, but only for GET", where: []*place{pRollerRoutes}}},
	{name: "page", service: "frontend", method: http.MethodGet, target: "/", first: 2, status: http.StatusOK},
	{name: "frontend-roll", service: "frontend", method: http.MethodGet, target: "/roll?die=fair", first: 2, status: http.StatusOK, routeSpan: "GET /roll"},
	{name: "frontend-unknown-die", service: "frontend", method: http.MethodGet, target: "/roll?die=no-such-die", first: 2, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"fair", "risky"}, why: "the frontend refuses an unknown die itself, before calling the dice-roller", where: []*place{pRelay}}},
	{name: "dice-list", service: "die-service", method: http.MethodGet, target: "/dice", first: 3, status: http.StatusOK, routeSpan: "GET /dice"},
	{name: "dice-spec", service: "die-service", method: http.MethodGet, target: "/dice?identifier=fair", first: 3, status: http.StatusOK},
	{name: "unknown-identifier", service: "die-service", method: http.MethodGet, target: "/dice?identifier=no-such-die", first: 3, status: http.StatusNotFound,
		refused: &refusal{mention: []string{"fair", "risky"}, why: "no die has that identifier", where: []*place{pHandleDice}}},
	{name: "async", service: "frontend", method: http.MethodGet, target: "/roll-async?die=fair&times=" + strconv.Itoa(asyncTimes), first: 4, status: http.StatusOK},
	{name: "times-missing", service: "dice-roller", method: http.MethodGet, target: "/roll-async?die=fair", first: 4, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"1", "20"}, why: timesWhy, where: []*place{pRollAsync, pParseTimes}}},
	{name: "times-not-int", service: "dice-roller", method: http.MethodGet, target: "/roll-async?die=fair&times=abc", first: 4, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"1", "20"}, why: timesWhy, where: []*place{pRollAsync, pParseTimes}}},
	{name: "times-zero", service: "dice-roller", method: http.MethodGet, target: "/roll-async?die=fair&times=0", first: 4, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"1", "20"}, why: timesWhy, where: []*place{pRollAsync, pParseTimes}}},
	{name: "times-too-big", service: "dice-roller", method: http.MethodGet, target: "/roll-async?die=fair&times=21", first: 4, status: http.StatusBadRequest,
		refused: &refusal{mention: []string{"1", "20"}, why: timesWhy, where: []*place{pRollAsync, pParseTimes}}},

	{name: "metrics-dice-roller", service: "dice-roller", method: http.MethodGet, target: "/metrics", first: 1, when: phaseMetrics, status: http.StatusOK},
	{name: "metrics-frontend", service: "frontend", method: http.MethodGet, target: "/metrics", first: 2, when: phaseMetrics, status: http.StatusOK},
	{name: "metrics-die-service", service: "die-service", method: http.MethodGet, target: "/metrics", first: 3, when: phaseMetrics, status: http.StatusOK},

	// Requests each service answers at once, with a span.
	{name: "sync-dice-roller", service: "dice-roller", method: http.MethodGet, target: "/roll", first: 1, when: phaseSync},
	{name: "sync-frontend", service: "frontend", method: http.MethodGet, target: "/", first: 2, when: phaseSync},
	{name: "sync-die-service", service: "die-service", method: http.MethodGet, target: "/dice", first: 3, when: phaseSync},
	{name: "last-roll", service: "dice-roller", method: http.MethodGet, target: "/roll", first: 1, when: phaseLast, status: http.StatusOK},
}

// probesOf lists the probes a stage sends in a phase, in table order.
func (o *Observation) probesOf(when phase) []probe {
	var out []probe
	for _, p := range probes {
		if p.when == when && o.Stage >= p.first && o.has(p.service) {
			out = append(out, p)
		}
	}
	return out
}

// serverRoutes lists, per service, the server span named after a route
// that the traffic must have produced.
func (o *Observation) serverRoutes() map[string]string {
	routes := map[string]string{}
	for _, p := range o.probesOf(phaseTraffic) {
		if _, seen := routes[p.service]; !seen && p.routeSpan != "" {
			routes[p.service] = p.routeSpan
		}
	}
	return routes
}

// Answer is one probe request and what came back.
type Answer struct {
	Name    string // the probe's name, e.g. "frontend-roll"
	Service string // the service asked
	Method  string
	URL     string
	Status  int
	Body    []byte
	Err     error
	TraceID string // the trace id the CLI sent in traceparent
	SpanID  string // the parent span id it sent
	Sent    time.Time
	Done    time.Time
}

// Request is the request for people: the method and the path with its
// query, without the host and its random port.
func (a *Answer) Request() string {
	target := a.URL
	if u, err := url.Parse(a.URL); err == nil {
		target = u.RequestURI()
	}
	return a.Method + " " + target
}

// answer is a probe's answer, or the failure of a probe that got none.
func (o *Observation) answer(name string) (*Answer, error) {
	a, ok := o.Answers[name]
	if !ok {
		return nil, fmt.Errorf("the probe %q was not sent", name)
	}
	if a.Err != nil {
		return a, fail(fmt.Sprintf("the %s to answer %s", a.Service, a.Request()), "no answer: "+a.Err.Error())
	}
	return a, nil
}

// maxBody bounds what is read of an answer: a /metrics page of a stage is
// tens of kilobytes.
const maxBody = 1 << 20

// prober sends the probe requests, each with a traceparent of its own so the
// spans of each request can be found in the store by trace id.
type prober struct {
	client *http.Client
	obs    *Observation
	urls   func(service string) string // the base URL of a service
	// deadline ends the probe budget: every request of the run is sent
	// within it.
	deadline time.Time

	mu sync.Mutex // guards obs.Stalled: the last requests are sent side by side
}

func newProber(obs *Observation, urls func(string) string, budget time.Duration) *prober {
	if budget <= 0 {
		budget = probeBudget
	}
	// A transport of its own, whose connections the run closes when done.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &prober{client: &http.Client{Transport: transport}, obs: obs, urls: urls, deadline: time.Now().Add(budget)}
}

// send sends a probe and records its answer under its name.
func (p *prober) send(ctx context.Context, pr probe) *Answer {
	a := &Answer{Name: pr.name, Service: pr.service, Method: pr.method, URL: p.urls(pr.service) + pr.target,
		TraceID: randomHex(16), SpanID: randomHex(8)}
	p.obs.Answers[pr.name] = a
	a.Sent = time.Now()
	defer func() { a.Done = time.Now() }()
	ctx, cancel := context.WithDeadline(ctx, p.deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, pr.method, a.URL, nil)
	if err != nil {
		a.Err = err
		return a
	}
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", a.TraceID, a.SpanID))
	if pr.when == phaseMetrics {
		req.Header.Set("Accept", "text/plain")
	}
	resp, err := p.client.Do(req)
	if err == nil {
		a.Status = resp.StatusCode
		a.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	a.Err = err
	if timedOut(err) && ctx.Err() != context.Canceled {
		p.stall(a)
	}
	return a
}

// stall records the first request the stage did not answer in time.
func (p *prober) stall(a *Answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.obs.Stalled == nil {
		p.obs.Stalled = a
	}
}

// probeBudget bounds the whole probe traffic of a run, every request of
// every phase together: the reference stages answer all of it in well under
// a second; a stage that hangs costs this once, not a timeout per request.
const probeBudget = 15 * time.Second

// sendTraffic sends the stage's known traffic, then reads each service's
// metrics. It stops at the first request that gets no answer in time: the
// stage does not answer, and what follows would only wait in turn.
func (p *prober) sendTraffic(ctx context.Context) {
	for _, pr := range p.obs.probesOf(phaseTraffic) {
		if p.send(ctx, pr); p.obs.Stalled != nil {
			return
		}
	}
	for _, pr := range p.obs.probesOf(phaseMetrics) {
		if p.obs.Metrics[pr.service], p.obs.MetricsErr[pr.service] = parseMetrics(p.send(ctx, pr)); p.obs.Stalled != nil {
			return
		}
	}
}

// timedOut reports whether a request failed for want of an answer in time,
// rather than for a refused or broken connection.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
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
