package check

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

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

// spanFor finds the span a service produced for a probe: in the trace the
// CLI started when the service continued it, else the one that started while
// the probe's request was in flight (a service that does not extract the
// traceparent starts a trace of its own; that is the propagation checks'
// business, not every check's).
func (o *Observation) spanFor(probe, service, name, kind string) (otlp.Span, otlp.Trace, bool) {
	t, a, _ := o.traceOf(probe)
	if a == nil {
		return otlp.Span{}, t, false
	}
	if s, ok := findSpan(t, service, name, kind); ok {
		return s, t, true
	}
	// Containers share the machine's clock, so the window is exact.
	var best otlp.Span
	for _, s := range o.spansOf(service, name) {
		if (kind == "" || s.Kind == kind) && !s.Start.Before(a.Sent) && !s.Start.After(a.Done) &&
			(best.SpanID == "" || s.Start.Before(best.Start)) {
			best = s
		}
	}
	if best.SpanID == "" {
		return otlp.Span{}, t, false
	}
	own, _ := o.Store.Trace(best.TraceID)
	return best, own, true
}

func checkServerSpans(o *Observation) error {
	routes := o.serverRoutes()
	services := make([]string, 0, len(routes))
	for s := range routes {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, service := range services {
		if f := o.silent(service); f != nil {
			return f
		}
		name := routes[service]
		spans := o.spansOf(service, name)
		var server []otlp.Span
		for _, s := range spans {
			if s.Kind == "Server" {
				server = append(server, s)
			}
		}
		if len(server) == 0 {
			return fail(fmt.Sprintf("a server span named %q from the %s", name, service), o.serverSpanNames(service)).at(pTraceRequests, routesOf(service))
		}
		route := strings.TrimPrefix(name, "GET ")
		if f := wantAttrs(server[0],
			map[string]string{"http.route": "string", "http.request.method": "string", "http.response.status_code": "int"},
			map[string]any{"http.route": route, "http.request.method": "GET"}); f != nil {
			return f.at(pTraceRequests, routesOf(service))
		}
	}
	return nil
}

func checkRollSpan(o *Observation) error {
	if f := o.silent("dice-roller"); f != nil {
		return f
	}
	a := o.Answers["roll"]
	s, t, ok := o.spanFor("roll", "dice-roller", "GET /roll", "Server")
	if !ok {
		return withTrace(fail("the dice-roller's server span \"GET /roll\" for "+a.Request(), "no such span; "+o.serverSpanNames("dice-roller")), t).at(pTraceRequests)
	}
	if f := wantAttrs(s,
		map[string]string{"die.type": "string", "die.result": "int", "die.error": "bool"},
		map[string]any{"die.type": "fair", "die.error": false}); f != nil {
		return f.at(pRoll)
	}
	if v := s.Attributes["die.result"].(int64); v < 1 || v > 6 {
		return fail("die.result to be the face rolled (1..6 for fair)", fmt.Sprint(v)).at(pRoll)
	}
	return nil
}

func checkFrontendTrace(o *Observation) error {
	t, a, _ := o.traceOf("frontend-roll")
	if a == nil {
		return fmt.Errorf("the frontend probe was not sent")
	}
	if f := o.silent("frontend"); f != nil {
		return f
	}
	server, ok := findSpan(t, "frontend", "GET /roll", "Server")
	if !ok {
		return withTrace(fail("the frontend's server span \"GET /roll\" to continue the trace of the traceparent header the CLI sent",
			o.whereIs("frontend", "GET /roll", a.TraceID)+": the frontend did not read the header. A propagator reads it, and the global one does nothing until one is set"), t).at(pPropagator)
	}
	var client otlp.Span
	for _, s := range t.Spans {
		if s.Service == "frontend" && s.Kind == "Client" && s.ParentSpanID == server.SpanID {
			client = s
		}
	}
	if client.SpanID == "" {
		return withTrace(fail("a client span of the frontend for its call to the dice-roller, child of its server span",
			"none: the call is not traced. Its client's transport is not otelhttp's, or the request is made without the incoming request's ctx"), t).at(pHTTPClient, pFrontendGet)
	}
	roller, ok := findSpan(t, "dice-roller", "GET /roll", "Server")
	if !ok {
		return withTrace(fail("the dice-roller's server span in the frontend's trace, child of the frontend's client span",
			o.whereIs("dice-roller", "GET /roll", a.TraceID)+": no traceparent header reached the dice-roller. The client's transport writes it with the global propagator, which does nothing until one is set"), t).at(pPropagator, pHTTPClient)
	}
	if roller.ParentSpanID != client.SpanID {
		return withTrace(fail("the dice-roller's server span to be a child of the frontend's client span",
			fmt.Sprintf("its parent is %q of the %s", spanByID(t, roller.ParentSpanID).Name, spanByID(t, roller.ParentSpanID).Service)), t).at(pFrontendGet, pHTTPClient)
	}
	return nil
}

// whereIs says where a span ended up when it is not in the expected trace.
func (o *Observation) whereIs(service, name, traceID string) string {
	spans := o.spansOf(service, name)
	if len(spans) == 0 {
		return fmt.Sprintf("no span %q from the %s was received at all", name, service)
	}
	others, roots := 0, 0
	for _, s := range spans {
		if s.TraceID != traceID {
			others++
			if s.ParentSpanID == "" {
				roots++
			}
		}
	}
	if roots == others {
		return fmt.Sprintf("%d %q span(s) from the %s, each the root of a trace of its own", others, name, service)
	}
	return fmt.Sprintf("%d %q span(s) from the %s, in other traces", others, name, service)
}

func checkFrontendSpan(o *Observation) error {
	if f := o.silent("frontend"); f != nil {
		return f
	}
	s, _, ok := o.spanFor("frontend-roll", "frontend", "GET /roll", "Server")
	if !ok {
		return fail("the frontend's server span \"GET /roll\"", o.serverSpanNames("frontend")).at(pTraceRequests, pFrontendRoutes)
	}
	if f := wantAttrs(s,
		map[string]string{"die.type": "string", "backend.status_code": "int", "backend.url": "string"},
		map[string]any{"die.type": "fair", "backend.status_code": int64(200)}); f != nil {
		return f.at(pRelaySpan, pCallDiceRoller)
	}
	return nil
}

func checkThreeServiceTrace(o *Observation) error {
	t, a, _ := o.traceOf("frontend-roll")
	if a == nil {
		return fmt.Errorf("the frontend probe was not sent")
	}
	if f := o.silent("die-service"); f != nil {
		return f
	}
	roller, ok := findSpan(t, "dice-roller", "GET /roll", "Server")
	if !ok {
		return withTrace(fail("the dice-roller's server span in the frontend's trace", o.whereIs("dice-roller", "GET /roll", a.TraceID)), t).at(pPropagator, pHTTPClient)
	}
	ds, ok := findSpan(t, "die-service", "GET /dice", "Server")
	if !ok {
		return o.alsoDieList(withTrace(fail("the die-service's server span \"GET /dice\" in the same trace, under the dice-roller's lookup",
			o.whereIs("die-service", "GET /dice", a.TraceID)+": the dice-roller's request to the die-service carried no traceparent header. "+
				"It is sent by a client whose transport is not otelhttp's, or made without the request's ctx"), t).at(pDieServiceClient, pDieFetch))
	}
	parent := spanByID(t, ds.ParentSpanID)
	if parent.Service != "dice-roller" || parent.Kind != "Client" {
		return o.alsoDieList(withTrace(fail("the die-service's span to be a child of a client span of the dice-roller",
			fmt.Sprintf("its parent is %q of %s: the dice-roller's client does not trace its requests (its transport is not otelhttp's)", parent.Name, orNone(parent.Service))), t).at(pDieServiceClient))
	}
	if !descends(t, parent, roller.SpanID) {
		return o.alsoDieList(withTrace(fail("the lookup's client span to descend from the dice-roller's server span \"GET /roll\"",
			"it does not: the request to the die-service is made with a context other than the request's"), t).at(pDieFetch, pDieLookup))
	}
	return o.checkDieListFetch()
}

// alsoDieList completes a failure of the dice-roller's half of the check:
// when the frontend's die-list request does not join its trace either, the
// learner learns it now, with its place, rather than after fixing the first.
func (o *Observation) alsoDieList(f *Failure) *Failure {
	if o.checkDieListFetch() != nil {
		f.Seen += ". The frontend's request for the die list does not join the trace that caused it either"
		f.where = append(f.where, pDiceListFetch)
	}
	return f
}

// checkDieListFetch checks the frontend's requests for the die list: each
// made with the ctx of what caused it, "load die list" at startup (the
// receiver is up before the services start, so that trace is received) or
// the request that found the list too old, so that its client span is a
// child there and the die-service's "GET /dice" a child of the client span.
func (o *Observation) checkDieListFetch() error {
	fetches, traces := o.dieListFetches()
	want := "the frontend's request for the die list (its client span \"GET /dice\") to be a child of the span that caused it: \"load die list\" at startup, the request that found the list too old later"
	if len(fetches) == 0 {
		return fail(want, "no client span of the frontend for a request to the die-service's /dice was received at all: "+
			"the frontend fetches the list at startup, with the instrumented client (the telemetry package's NewHTTPClient)").at(pDiceListFetch, pHTTPClient)
	}
	for i, c := range fetches {
		if c.ParentSpanID != "" {
			continue
		}
		seen := fmt.Sprintf("%d of the frontend's %d die-list request(s), each the root of a trace of its own", countRoots(fetches), len(fetches))
		if ds, ok := childOf(traces[i], c.SpanID, "die-service"); ok {
			seen += fmt.Sprintf(", the die-service's %q under it", ds.Name)
		}
		return withTrace(fail(want, seen+": the request is made without the caller's ctx (http.NewRequest, or a context.Background()), "+
			"so the client span starts a trace of its own instead of joining \"load die list\""), traces[i]).at(pDiceListFetch)
	}
	for i, c := range fetches {
		if _, ok := childOf(traces[i], c.SpanID, "die-service"); ok {
			return nil
		}
	}
	return withTrace(fail("the die-service's server span \"GET /dice\" to be a child of the frontend's die-list client span",
		fmt.Sprintf("%d die-list requests of the frontend, none with a span of the die-service under it: they carried no traceparent header", len(fetches))), traces[0]).at(pDiceListFetch, pHTTPClient)
}

// dieListFetches finds the frontend's requests for the die list: its client
// spans for GET /dice (the path in url.full, or in the span's name), or
// the parents of a die-service span; each with its trace.
func (o *Observation) dieListFetches() ([]otlp.Span, []otlp.Trace) {
	var spans []otlp.Span
	var traces []otlp.Trace
	for _, t := range o.Store.Traces(0) {
		for _, s := range t.Spans {
			if s.Service != "frontend" || s.Kind != "Client" {
				continue
			}
			full, _ := s.Attributes["url.full"].(string)
			u, err := url.Parse(full)
			_, parent := childOf(t, s.SpanID, "die-service")
			if full != "" && err == nil && u.Path == "/dice" || s.Name == "GET /dice" || parent {
				spans, traces = append(spans, s), append(traces, t)
			}
		}
	}
	return spans, traces
}

// childOf finds a span of service whose parent is the span id in t.
func childOf(t otlp.Trace, id, service string) (otlp.Span, bool) {
	for _, s := range t.Spans {
		if s.ParentSpanID == id && s.Service == service {
			return s, true
		}
	}
	return otlp.Span{}, false
}

func countRoots(spans []otlp.Span) int {
	n := 0
	for _, s := range spans {
		if s.ParentSpanID == "" {
			n++
		}
	}
	return n
}

func orNone(service string) string {
	if service == "" {
		return "no service (a span that was not received)"
	}
	return "the " + service
}

func spanByID(t otlp.Trace, id string) otlp.Span {
	for _, s := range t.Spans {
		if s.SpanID == id {
			return s
		}
	}
	return otlp.Span{Name: "(not received)"}
}

// descends reports whether s has ancestor in t.
func descends(t otlp.Trace, s otlp.Span, ancestor string) bool {
	for i := 0; i < len(t.Spans) && s.ParentSpanID != ""; i++ {
		if s.ParentSpanID == ancestor {
			return true
		}
		s = spanByID(t, s.ParentSpanID)
	}
	return false
}

func checkDieService(o *Observation) error {
	if err := checkDieServiceMetrics(o); err != nil {
		return err
	}
	if f := o.silent("die-service"); f != nil {
		return f
	}
	a := o.Answers["dice-spec"]
	s, t, ok := o.spanFor("dice-spec", "die-service", "GET /dice", "Server")
	if !ok {
		return withTrace(fail("the die-service's server span for "+a.Request(), o.serverSpanNames("die-service")), t).at(pTraceRequests, pDieServiceRoutes)
	}
	if f := wantAttrs(s, map[string]string{"die.identifier": "string", "die.found": "bool"},
		map[string]any{"die.identifier": "fair", "die.found": true}); f != nil {
		return f.at(pHandleDice)
	}
	if s, _, ok := o.spanFor("unknown-identifier", "die-service", "GET /dice", "Server"); ok {
		if f := wantAttrs(s, map[string]string{"die.found": "bool"}, map[string]any{"die.found": false}); f != nil {
			return f.at(pHandleDice)
		}
	}
	return nil
}

// asyncSpans finds the probe's GET /roll-async server span of the dice-roller
// and every async_roll_* span received anywhere.
func (o *Observation) asyncSpans() (t otlp.Trace, server otlp.Span, rolls []otlp.Span, err error) {
	a := o.Answers["async"]
	if a == nil {
		return t, server, nil, fmt.Errorf("the async probe was not sent")
	}
	if f := o.silent("dice-roller"); f != nil {
		return t, server, nil, f
	}
	server, t, ok := o.spanFor("async", "dice-roller", "GET /roll-async", "Server")
	if !ok {
		return t, server, nil, withTrace(fail("the dice-roller's server span \"GET /roll-async\" in the trace of "+a.Request(),
			o.whereIs("dice-roller", "GET /roll-async", a.TraceID)), t).at(pPropagator, pHTTPClient)
	}
	for _, tr := range o.Store.Traces(0) {
		for _, s := range tr.Spans {
			if s.Service == "dice-roller" && strings.HasPrefix(s.Name, "async_roll_") {
				rolls = append(rolls, s)
			}
		}
	}
	return t, server, rolls, nil
}

// noRolls is the failure of a batch whose rolls started no span.
// noRolls is the failure of a batch whose rolls start no span: exercise
// 4.1's work, taught in step 4.1 whichever async check finds it (step 4.2
// is about spans that exist but hang in the wrong place).
func noRolls(expected string, t otlp.Trace) *Failure {
	f := withTrace(fail(expected, "no async_roll_* span was received at all: the rolls of the batch start no span of their own"), t).at(pRollOne, pBatch)
	f.step = "4.1"
	f.hint = "Each roll of the batch starts its own span, async_roll_<i>, with tracer.Start from the request's ctx inside its goroutine, and ends it when the roll ends."
	return f
}

func checkAsyncChildren(o *Observation) error {
	t, server, rolls, err := o.asyncSpans()
	if err != nil {
		return err
	}
	want := fmt.Sprintf("%d spans async_roll_0..async_roll_%d, children of the dice-roller's \"GET /roll-async\" in its trace", asyncTimes, asyncTimes-1)
	if len(rolls) == 0 {
		return noRolls(want, t)
	}
	var children []otlp.Span
	orphans, nested, elsewhere := 0, 0, 0
	for _, s := range rolls {
		switch {
		case s.TraceID != server.TraceID && s.ParentSpanID == "":
			orphans++
		case s.TraceID != server.TraceID:
			elsewhere++
		case s.ParentSpanID == server.SpanID:
			children = append(children, s)
		default:
			nested++
		}
	}
	switch {
	case orphans > 0:
		return withTrace(fail(want, fmt.Sprintf("%d async_roll_* spans that are each the root of a trace of their own: they were started from a context without the request's span (context.Background()?)", orphans)), t).at(pRollOne, pBatch)
	case nested > 0:
		return withTrace(fail(want, fmt.Sprintf("%d async_roll_* spans nested under another roll: each was started from the ctx of the roll before (one ctx variable reassigned across the loop?)", nested)), t).at(pBatch, pRollOne)
	case len(children) != asyncTimes:
		return withTrace(fail(want, fmt.Sprintf("%d such children, and %d async_roll_* spans in other traces", len(children), elsewhere)), t).at(pRollOne, pBatch)
	}
	names := map[string]bool{}
	for _, c := range children {
		names[c.Name] = true
		if f := wantAttrs(c, map[string]string{"async.roll_index": "int", "die.result": "int", "die.error": "bool"}, nil); f != nil {
			return f.at(pRollOne)
		}
		if idx, _ := c.Attributes["async.roll_index"].(int64); c.Name != fmt.Sprintf("async_roll_%d", idx) {
			return fail("async.roll_index to match the span's name", fmt.Sprintf("%s with async.roll_index %d", c.Name, idx)).at(pRollOne)
		}
	}
	for i := range asyncTimes {
		if !names[fmt.Sprintf("async_roll_%d", i)] {
			return withTrace(fail(want, fmt.Sprintf("no span async_roll_%d", i)), t).at(pRollOne, pBatch)
		}
	}
	return nil
}

func checkAsyncOverlap(o *Observation) error {
	t, server, rolls, err := o.asyncSpans()
	if err != nil {
		return err
	}
	var mine []otlp.Span
	for _, s := range rolls {
		if s.TraceID == server.TraceID {
			mine = append(mine, s)
		}
	}
	if len(mine) < 2 {
		// Without the rolls in the trace, time the batch by its own spans.
		mine = rolls
	}
	want := fmt.Sprintf("the %d async_roll_* spans of a batch, to see whether its rolls overlap in time", asyncTimes)
	if len(mine) == 0 {
		return noRolls(want, t)
	}
	if len(mine) < 2 {
		return withTrace(fail(want, fmt.Sprintf("%d received", len(mine))), t).at(pBatch)
	}
	var sum time.Duration
	first, last := mine[0].Start, mine[0].End
	for _, s := range mine {
		sum += s.Duration()
		if s.Start.Before(first) {
			first = s.Start
		}
		if s.End.After(last) {
			last = s.End
		}
	}
	wall := last.Sub(first)
	// Run one after the other, the rolls take as long as their sum; run
	// concurrently, about as long as the slowest (a tenth of the sum for ten
	// uniform delays). Three quarters is far from both.
	if float64(wall) > 0.75*float64(sum) {
		return withTrace(fail(fmt.Sprintf("the %d rolls to overlap in time (the batch about as long as its slowest roll)", len(mine)),
			fmt.Sprintf("the rolls took %s together, one after the other: %s in all", wall.Round(time.Millisecond), sum.Round(time.Millisecond))), t).at(pBatch)
	}
	return nil
}

func checkAsyncSpan(o *Observation) error {
	_, server, _, err := o.asyncSpans()
	if err != nil {
		return err
	}
	a := o.Answers["async"]
	var body struct{ Total int }
	_ = json.Unmarshal(a.Body, &body)
	if f := wantAttrs(server,
		map[string]string{"async.batch_size": "int", "async.total_result": "int"},
		map[string]any{"async.batch_size": int64(asyncTimes), "async.total_result": int64(body.Total)}); f != nil {
		return f.at(pRollAsync)
	}
	return nil
}

func checkFlush(o *Observation) error {
	if f := o.silent("dice-roller"); f != nil {
		f.Expected = "the span of the request answered just before SIGTERM to arrive during shutdown"
		f.Seen = "no span of the dice-roller arrived at all, before or during shutdown: its tracer provider is not set up (the global one does nothing until SetupOTelSDK installs one), so there is nothing to flush"
		return f
	}
	if _, _, ok := o.spanFor("last-roll", "dice-roller", "GET /roll", "Server"); !ok {
		return fail("the span of the request answered just before SIGTERM to arrive during shutdown",
			"it never arrived: the tracer provider was not shut down (flushed) on exit, or was flushed with an already-cancelled context").at(pSDK, pShutdown)
	}
	return nil
}
