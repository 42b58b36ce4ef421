package check

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// Check is one line of the report card.
type Check struct {
	// ID is the check's key, the same in every stage ("async-children"): it
	// cannot be mistaken for a step (4.2) or an exercise (4.1).
	ID    string
	Stage int // the stage whose check it is
	Title string
	Step  string  // the lesson step that teaches it, e.g. "4.2"
	Hint  string  // the idea and the API to reach for, never the code
	Where []Place // where this stage's code does what the check verifies
	run   func(o *Observation) error
}

// Failure says what a check expected and what it saw instead.
type Failure struct {
	Expected string
	Seen     string
	Trace    string // the received trace as an indented tree, when it helps

	// where narrows the check's places to the ones this failure points at;
	// hint and step, when set, replace the check's: the failure's cause is
	// taught elsewhere (no span at all is the SDK's business, step 1.1).
	where      []*place
	hint, step string
}

func (f *Failure) Error() string { return "expected " + f.Expected + "; seen " + f.Seen }

func fail(expected, seen string) *Failure { return &Failure{Expected: expected, Seen: seen} }

// at says where to look for this failure; places of later stages are left
// out when the report is written.
func (f *Failure) at(places ...*place) *Failure {
	f.where = places
	return f
}

// Place is a function of a stage's code that a failing check points to.
type Place struct {
	File     string `json:"file"`               // in the stage module: "dice-roller/batch.go"
	Func     string `json:"function"`           // "rollBatch"
	Exercise string `json:"exercise,omitempty"` // the exercise of this stage that writes it, if any
}

func (p Place) String() string { return p.File + ", " + p.Func }

// place is a Place in every stage from first on; the exercise that writes
// it, if any, differs per stage.
type place struct {
	file, fn    string
	first, last int            // the stages that have it; last 0: every stage from first on
	exercises   map[int]string // stage → exercise id
}

// in is the place in stage n, false when the stage does not have it yet.
func (p *place) in(n int) (Place, bool) {
	if n < p.first || p.last > 0 && n > p.last {
		return Place{}, false
	}
	return Place{File: p.file, Func: p.fn, Exercise: p.exercises[n]}, true
}

// places lists every place, so tests can check that each exists.
var places []*place

func newPlace(file, fn string, first int, exercises map[int]string) *place {
	p := &place{file: file, fn: fn, first: first, exercises: exercises}
	places = append(places, p)
	return p
}

// until makes p a place of the stages up to last only (a function renamed
// in a later stage).
func (p *place) until(last int) *place {
	p.last = last
	return p
}

// The places checks point to. A function named twice is written by a
// different exercise in a stage (handleRoll: 1.3 its span, 1.5 its metrics).
var (
	pSDK           = newPlace("internal/telemetry/otel.go", "SetupOTelSDK", 1, map[int]string{1: "1.1"})
	pPropagator    = newPlace("internal/telemetry/otel.go", "SetupOTelSDK", 1, map[int]string{1: "1.1", 2: "2.3"})
	pTraceRequests = newPlace("internal/telemetry/http.go", "TraceRequests", 1, nil)
	pHTTPMetrics   = newPlace("internal/telemetry/http.go", "Middleware", 1, nil)
	pLogger        = newPlace("internal/telemetry/logger.go", "NewLogger", 1, nil)
	pLogHandler    = newPlace("internal/telemetry/logger.go", "Handle", 1, map[int]string{1: "1.6"})
	pShutdown      = newPlace("internal/service/service.go", "Run", 1, nil)
	pRollerRoutes  = newPlace("dice-roller/handlers.go", "routes", 1, nil)
	pRoll          = newPlace("dice-roller/handlers.go", "handleRoll", 1, map[int]string{1: "1.3"})
	pRollMetrics   = newPlace("dice-roller/handlers.go", "handleRoll", 1, map[int]string{1: "1.5"})
	pDiceMetrics   = newPlace("dice-roller/metrics.go", "newMetrics", 1, map[int]string{1: "1.5"})
	pServerLookup  = newPlace("dice-roller/handlers.go", "lookup", 1, nil).until(2)
	pResolveDie    = newPlace("dice-roller/handlers.go", "resolveDie", 3, map[int]string{3: "3.3"})

	pFrontendRoutes  = newPlace("frontend/handlers.go", "routes", 2, nil)
	pRelay           = newPlace("frontend/handlers.go", "relay", 2, map[int]string{2: "2.4"})
	pRelaySpan       = newPlace("frontend/handlers.go", "relay", 2, map[int]string{2: "2.2"})
	pCallDiceRoller  = newPlace("frontend/handlers.go", "callDiceRoller", 2, map[int]string{2: "2.2"})
	pFrontendGet     = newPlace("frontend/handlers.go", "get", 2, map[int]string{2: "2.2"})
	pHTTPClient      = newPlace("internal/telemetry/http.go", "NewHTTPClient", 2, map[int]string{2: "2.2"})
	pFrontendMetrics = newPlace("frontend/metrics.go", "newMetrics", 2, map[int]string{2: "2.4"})

	pDieServiceRoutes  = newPlace("die-service/handlers.go", "routes", 3, nil)
	pHandleDice        = newPlace("die-service/handlers.go", "handleDice", 3, map[int]string{3: "3.1"})
	pDieServiceMetrics = newPlace("die-service/metrics.go", "newMetrics", 3, map[int]string{3: "3.1"})
	pDieLookup         = newPlace("dice-roller/dice.go", "lookup", 3, map[int]string{3: "3.2"})
	pClassify          = newPlace("dice-roller/dice.go", "classify", 3, map[int]string{3: "3.2"})
	pLookupMetrics     = newPlace("dice-roller/metrics.go", "newMetrics", 3, map[int]string{3: "3.2"})
	pDieServiceClient  = newPlace("dice-roller/handlers.go", "newServer", 3, map[int]string{3: "3.4"})
	pDieFetch          = newPlace("dice-roller/dice.go", "fetch", 3, nil)
	pDiceListFetch     = newPlace("frontend/dice.go", "fetch", 3, map[int]string{3: "3.4"})

	pParseTimes       = newPlace("internal/service/service.go", "ParseTimes", 4, nil)
	pRollAsync        = newPlace("dice-roller/handlers.go", "handleRollAsync", 4, map[int]string{4: "4.3"})
	pRollAsyncMetrics = newPlace("dice-roller/handlers.go", "handleRollAsync", 4, map[int]string{4: "4.4"})
	pBatch            = newPlace("dice-roller/batch.go", "rollBatch", 4, map[int]string{4: "4.1"})
	pRollOne          = newPlace("dice-roller/batch.go", "rollOne", 4, map[int]string{4: "4.1"})
	pRollOneMetrics   = newPlace("dice-roller/batch.go", "rollOne", 4, map[int]string{4: "4.4"})
	pAsyncMetrics     = newPlace("dice-roller/metrics.go", "newMetrics", 4, map[int]string{4: "4.4"})
	pAsyncBornAtZero  = newPlace("dice-roller/metrics.go", "dieKnown", 4, map[int]string{4: "4.4"})
)

// routesOf is the routes func of a service, where its middleware is wired.
func routesOf(service string) *place {
	switch service {
	case "frontend":
		return pFrontendRoutes
	case "die-service":
		return pDieServiceRoutes
	}
	return pRollerRoutes
}

// resolve turns places into the Places of stage n, leaving out the ones the
// stage does not have and repeats.
func resolve(n int, ps []*place) []Place {
	var out []Place
	for _, p := range ps {
		if pl, ok := p.in(n); ok && !slices.Contains(out, pl) {
			out = append(out, pl)
		}
	}
	return out
}

// spec is a check in the catalog: which stages it applies to and, for each,
// the lesson step to read.
type spec struct {
	key, title, hint string
	steps            map[int]string // stage → step; the check applies to these stages
	where            []*place
	run              func(o *Observation) error
}

func from(first int, step string) map[int]string {
	m := map[int]string{}
	for n := first; n <= 4; n++ {
		m[n] = step
	}
	return m
}

// catalog is every check, in report order.
var catalog = []spec{
	{"api", "The API answers rolls",
		`GET /roll?die=fair answers 200 with the JSON body {"roll": n}, n a face of the die; in stage 4 GET /roll-async answers {"rolls": [...], "total": sum, "count": n}. The body seen above usually names the problem.`,
		map[int]string{1: "1.3", 2: "2.1", 3: "3.2", 4: "4.1"},
		[]*place{pRoll, pRelay, pDieLookup, pRollAsync, pBatch}, checkAPI},
	{"bad-input", "Bad input is refused with a clear error",
		`Bad input is the caller's mistake: refuse it with 400 and a JSON body {"error": "..."} that names the valid values, before calling anything else; a 5xx says the server failed. A wrong method is the router's 405.`,
		map[int]string{1: "1.3", 2: "2.1", 3: "3.3", 4: "4.1"},
		[]*place{pRoll, pServerLookup, pResolveDie, pRelay, pHandleDice, pParseTimes}, checkBadInput},
	{"server-spans", "Server spans are named after the route",
		"otelhttp's middleware can name a server span after the route (\"GET /roll\") and set http.route only when it runs inside the chi router (r.Use), where the matched route is known; wrapped around the whole router it only sees the method.",
		from(1, "1.2"), []*place{pTraceRequests, pRollerRoutes}, checkServerSpans},
	{"roll-span", "The roll is described on its span",
		"The server span travels in the request's context (trace.SpanFromContext). Describe the roll on it with typed attributes: die.type a string, die.result an int, die.error a bool (attribute.String, attribute.Int, attribute.Bool).",
		from(1, "1.3"), []*place{pRoll}, checkRollSpan},
	{"http-metrics", "HTTP metrics are labelled with the route",
		"Label http_requests_total and http_request_duration_seconds with the route pattern the router matched (chi's RoutePattern, \"/roll\"), never with r.URL: every query string would become a new series.",
		from(1, "1.4"), []*place{pHTTPMetrics}, checkHTTPMetrics},
	{"dice-metrics", "Dice metrics count rolls and their values",
		"Two metrics on the service's registry: a CounterVec dice_rolls_total{die_type,result} counted once per roll (result success or error), and a HistogramVec dice_roll_value{die_type} with one bucket per face value, 1 to 8. Only known dice become label values.",
		from(1, "1.5"), []*place{pDiceMetrics, pRollMetrics}, checkDiceMetrics},
	{"logs-json", "Logs are one JSON object per line",
		"log/slog's JSON handler writes one object per line; the kit's logger names the keys timestamp (RFC 3339, UTC), level (INFO, WARNING, ERROR) and message.",
		from(1, "1.6"), []*place{pLogger}, checkLogsJSON},
	{"logs-trace", "Logs carry the trace id of their request",
		"A slog.Handler that wraps the JSON one can read the span from the context each record is logged with (trace.SpanContextFromContext) and add trace_id and span_id; it only sees a span when the line is logged with the request's ctx (InfoContext).",
		from(1, "1.6"), []*place{pLogHandler}, checkLogsTrace},
	{"flush", "Spans are flushed on shutdown",
		"The batching tracer provider keeps the last spans in memory until its next export. Its Shutdown exports them: SetupOTelSDK returns it, and the service calls it on the way out with a context that is not already cancelled.",
		from(1, "1.1"), []*place{pSDK, pShutdown}, checkFlush},
	{"frontend-trace", "One trace from the frontend to the dice-roller",
		"Two pieces carry a trace over HTTP: a global propagator (otel.SetTextMapPropagator with propagation.TraceContext) that writes and reads the traceparent header, and a client whose transport is otelhttp's (otelhttp.NewTransport), sending a request made with the incoming request's ctx.",
		from(2, "2.3"), []*place{pPropagator, pHTTPClient, pFrontendGet}, checkFrontendTrace},
	{"frontend-span", "The frontend describes the call on its span",
		"On the frontend's server span (trace.SpanFromContext) record what it asked and what it got: die.type (string), backend.url (string) and backend.status_code (int).",
		from(2, "2.2"), []*place{pRelaySpan, pCallDiceRoller}, checkFrontendSpan},
	{"frontend-metrics", "The frontend measures what users see",
		"Three metrics labelled by die_type, a known die or \"unknown\": frontend_button_clicks_total{die_type}, frontend_requests_total{die_type,status_code} with the status code as a string, and the histogram frontend_request_duration_seconds{die_type}.",
		from(2, "2.4"), []*place{pFrontendMetrics, pRelay}, checkFrontendMetrics},
	{"die-service", "The die-service counts and describes what it is asked",
		"The die-service counts what it is asked (die_specifications_requested_total{identifier}, \"unknown\" for an identifier it does not know, and die_list_requests_total), shows how many dice it loaded (the gauge die_specifications_loaded), and describes each answer on its span: die.identifier (string), die.found (bool).",
		from(3, "3.1"), []*place{pDieServiceMetrics, pHandleDice}, checkDieService},
	{"lookup-metrics", "The dice-roller measures its lookups",
		"Count each question to the die-service by identifier and outcome, die_service_requests_total{identifier,status} with status success, not_found, error, timeout or unavailable (classify names the outcome of an error), and time it with the histogram die_service_request_duration_seconds.",
		from(3, "3.2"), []*place{pLookupMetrics, pDieLookup, pClassify}, checkLookupMetrics},
	{"three-service-trace", "One trace across three services",
		"The dice-roller's request to the die-service joins the trace only when it is made with the request's ctx (http.NewRequestWithContext) and sent by the instrumented client (the telemetry package's NewHTTPClient, built on otelhttp.NewTransport).",
		from(3, "3.4"), []*place{pDieServiceClient, pDieFetch}, checkThreeServiceTrace},
	{"async-children", "Each roll of a batch is a child span of the request",
		"Each goroutine starts its own span from the request's ctx (tracer.Start returns a new ctx: keep it inside the goroutine). A span started from context.Background() is the root of a trace of its own, and one ctx variable reassigned across the loop nests each roll under the one before.",
		map[int]string{4: "4.2"}, []*place{pRollOne, pBatch}, checkAsyncChildren},
	{"async-overlap", "The rolls of a batch run concurrently",
		"Each roll runs in a goroutine of its own (an errgroup's Go) and the handler waits for all of them (Wait): the batch then takes about as long as its slowest roll, not the sum of them.",
		map[int]string{4: "4.1"}, []*place{pBatch}, checkAsyncOverlap},
	{"async-span", "The batch is described on the server span",
		"On the server span of GET /roll-async (trace.SpanFromContext) put the batch's summary as int attributes (attribute.Int): async.batch_size once times is valid, async.total_result once the batch succeeded.",
		map[int]string{4: "4.3"}, []*place{pRollAsync}, checkAsyncSpan},
	{"async-metrics", "Async rolls have their own metrics",
		"async_rolls_total{die_type,result} counted in each roll's goroutine; the histograms async_roll_batch_size (buckets 1, 2, 3, 5, 10, 15, 20) and async_roll_duration_seconds observed once per batch; the gauge async_rolls_in_progress raised when a roll starts and lowered, deferred, when it ends.",
		map[int]string{4: "4.4"}, []*place{pAsyncMetrics, pAsyncBornAtZero, pRollOneMetrics, pRollAsyncMetrics}, checkAsyncMetrics},
}

// Catalog lists the checks of a stage, in report order.
func Catalog(stage int) []Check {
	var out []Check
	for _, s := range catalog {
		step, ok := s.steps[stage]
		if !ok {
			continue
		}
		out = append(out, Check{
			ID: s.key, Stage: stage, Title: s.title, Step: step, Hint: s.hint,
			Where: resolve(stage, s.where), run: s.run,
		})
	}
	return out
}

// Keys lists the ids of every check, of every stage.
func Keys() []string {
	keys := make([]string, len(catalog))
	for i, s := range catalog {
		keys[i] = s.key
	}
	return keys
}

// ---- helpers over the observation ----

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

// traceOf is the trace the CLI started for a probe.
func (o *Observation) traceOf(name string) (otlp.Trace, *Answer, bool) {
	a := o.Answers[name]
	if a == nil {
		return otlp.Trace{}, nil, false
	}
	t, ok := o.Store.Trace(a.TraceID)
	return t, a, ok
}

func findSpan(t otlp.Trace, service, name, kind string) (otlp.Span, bool) {
	for _, s := range t.Spans {
		if s.Service == service && s.Name == name && (kind == "" || s.Kind == kind) {
			return s, true
		}
	}
	return otlp.Span{}, false
}

// spansOf lists every received span of a service with a given name.
func (o *Observation) spansOf(service, name string) []otlp.Span {
	var out []otlp.Span
	for _, t := range o.Store.Traces(0) {
		for _, s := range t.Spans {
			if s.Service == service && s.Name == name {
				out = append(out, s)
			}
		}
	}
	return out
}

// serverSpanNames lists the names of a service's server spans, for messages.
func (o *Observation) serverSpanNames(service string) string {
	seen := map[string]bool{}
	for _, t := range o.Store.Traces(0) {
		for _, s := range t.Spans {
			if s.Service == service && s.Kind == "Server" {
				seen[s.Name] = true
			}
		}
	}
	if len(seen) == 0 {
		return fmt.Sprintf("no server span from %s at all (is its tracer provider set up and exporting?)", service)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	return "server spans named " + strings.Join(names, ", ")
}

func attrType(v any) string {
	switch v.(type) {
	case int64:
		return "int"
	case bool:
		return "bool"
	case string:
		return "string"
	case float64:
		return "double"
	case nil:
		return "missing"
	}
	return fmt.Sprintf("%T", v)
}

// wantAttrs checks that a span has each attribute with the given type
// ("int", "bool", "string"), and the given value where values has one.
func wantAttrs(s otlp.Span, types map[string]string, values map[string]any) *Failure {
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, k := range keys {
		got, ok := s.Attributes[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (%s) is missing", k, types[k]))
		case attrType(got) != types[k]:
			problems = append(problems, fmt.Sprintf("%s is a %s (%v), want a %s", k, attrType(got), got, types[k]))
		case values[k] != nil && got != values[k]:
			problems = append(problems, fmt.Sprintf("%s = %v, want %v", k, got, values[k]))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	want := make([]string, len(keys))
	for i, k := range keys {
		want[i] = fmt.Sprintf("%s (%s)", k, types[k])
		if v := values[k]; v != nil {
			want[i] = fmt.Sprintf("%s = %v (%s)", k, v, types[k])
		}
	}
	return fail(fmt.Sprintf("the %s's span %q with the attributes %s", s.Service, s.Name, strings.Join(want, ", ")), strings.Join(problems, "; "))
}

// treeOf draws a trace as an indented tree with start offsets and durations.
func treeOf(t otlp.Trace) string {
	if len(t.Spans) == 0 {
		return "  (no spans received)"
	}
	children := map[string][]otlp.Span{}
	ids := map[string]bool{}
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var roots []otlp.Span
	for _, s := range t.Spans {
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] {
			roots = append(roots, s)
		} else {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}
	start := t.Start()
	var b strings.Builder
	var walk func(s otlp.Span, depth int)
	walk = func(s otlp.Span, depth int) {
		fmt.Fprintf(&b, "  %s%s [%s, %s] +%s %s\n", strings.Repeat("  ", depth), s.Name, s.Service, strings.ToLower(s.Kind),
			s.Start.Sub(start).Round(time.Millisecond), s.Duration().Round(100*time.Microsecond))
		kids := children[s.SpanID]
		sort.Slice(kids, func(i, j int) bool { return kids[i].Start.Before(kids[j].Start) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Start.Before(roots[j].Start) })
	for _, r := range roots {
		walk(r, 0)
	}
	return strings.TrimRight(b.String(), "\n")
}

// withTrace shows the trace received with a failure; an empty one says
// nothing the failure does not.
func withTrace(f *Failure, t otlp.Trace) *Failure {
	if len(t.Spans) > 0 {
		f.Trace = treeOf(t)
	}
	return f
}

// silent fails when a service exported no span at all: every span check of
// that service would fail for the same reason, which is not theirs.
func (o *Observation) silent(service string) *Failure {
	for _, t := range o.Store.Traces(0) {
		for _, s := range t.Spans {
			if s.Service == service {
				return nil
			}
		}
	}
	f := fail("spans from the "+service+", one per request at least",
		"none at all: nothing was exported. The tracer provider is not set up (the global one does nothing until SetupOTelSDK installs one), or it exports somewhere else").at(pSDK)
	f.hint = sdkHint
	f.step = "1.1"
	return f
}

// sdkHint is the hint of every failure caused by a service that exports nothing.
const sdkHint = "Spans need the SDK first: SetupOTelSDK builds a tracer provider that batches spans to an OTLP exporter " +
	"(sdktrace.NewTracerProvider with sdktrace.WithBatcher, otlptracehttp.New), installs it with otel.SetTracerProvider, and returns its Shutdown."

func (o *Observation) family(service, name string) (*dto.MetricFamily, *Failure) {
	if err := o.MetricsErr[service]; err != nil {
		return nil, fail(fmt.Sprintf("%s's /metrics", service), err.Error())
	}
	f, ok := o.Metrics[service][name]
	if !ok {
		return nil, fail(fmt.Sprintf("the metric %s on the %s's /metrics", name, service), "no such metric; "+o.similarMetrics(service, name))
	}
	return f, nil
}

// similarMetrics names metrics close to a wanted one (a typo, a missing _total).
func (o *Observation) similarMetrics(service, name string) string {
	stem := strings.TrimSuffix(strings.TrimSuffix(name, "_total"), "_seconds")
	var near []string
	for n := range o.Metrics[service] {
		if strings.Contains(n, stem) || strings.Contains(stem, strings.TrimSuffix(n, "_total")) {
			near = append(near, n)
		}
	}
	if len(near) > 0 {
		sort.Strings(near)
		return "similar: " + strings.Join(near, ", ")
	}
	// Name what is there, leaving out the Go runtime's own metrics.
	var own []string
	for n := range o.Metrics[service] {
		if !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") && !strings.HasPrefix(n, "promhttp_") {
			own = append(own, n)
		}
	}
	if len(own) == 0 {
		return "nothing similar, and no metric of its own is registered yet"
	}
	sort.Strings(own)
	return "nothing similar; its own metrics are " + strings.Join(own, ", ")
}

// wantFamily checks a metric's type and label names.
func (o *Observation) wantFamily(service, name string, typ dto.MetricType, labels ...string) (*dto.MetricFamily, *Failure) {
	f, fl := o.family(service, name)
	if fl != nil {
		return nil, fl
	}
	if f.GetType() != typ {
		return nil, fail(fmt.Sprintf("%s to be a %s", name, strings.ToLower(typ.String())), "a "+strings.ToLower(f.GetType().String()))
	}
	if len(f.GetMetric()) == 0 {
		return nil, fail(fmt.Sprintf("%s labelled {%s}", name, strings.Join(labels, ",")), "a metric with no series: it is declared but never recorded")
	}
	want := append([]string(nil), labels...)
	sort.Strings(want)
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName())
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			return nil, fail(fmt.Sprintf("%s labelled {%s}", name, strings.Join(want, ",")), "a series "+labelsString(m))
		}
	}
	return f, nil
}

// counted finds the series with exactly these label values and reports
// whether something was recorded in it: a counter above 0, a histogram with
// observations. A series created at 0 up front does not count.
func counted(f *dto.MetricFamily, labels map[string]string) bool {
	m := series(f, labels)
	return m != nil && (m.GetCounter().GetValue() > 0 || m.GetHistogram().GetSampleCount() > 0)
}

// series finds the series with exactly these label values.
func series(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func listSeries(f *dto.MetricFamily) string {
	var s []string
	for _, m := range f.GetMetric() {
		s = append(s, labelsString(m))
	}
	if len(s) == 0 {
		return "no series"
	}
	if len(s) > 8 {
		s = append(s[:8], fmt.Sprintf("… (%d series)", len(f.GetMetric())))
	}
	return "series " + strings.Join(s, " ")
}

func labelValues(f *dto.MetricFamily, label string) []string {
	seen := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				seen[l.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func buckets(m *dto.Metric) []float64 {
	var out []float64
	for _, b := range m.GetHistogram().GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue // the text format lists +Inf; client_golang adds it by itself
		}
		out = append(out, b.GetUpperBound())
	}
	return out
}

// jsonString shows a decoded log line as the JSON it was, shortened.
func jsonString(l map[string]any) string {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Sprint(l)
	}
	return short(b)
}

// jsonLines decodes a service's log lines; it reports the first that is not
// a JSON object.
func jsonLines(lines []string) ([]map[string]any, string) {
	var out []map[string]any
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return out, l
		}
		out = append(out, m)
	}
	return out, ""
}
