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
	ID    string // "4.7": the stage, then the check's place in the stage's list
	Key   string // stable name across stages, e.g. "async-children"
	Title string
	Step  string // the lesson step that teaches it, e.g. "4.2"
	Hint  string
	run   func(o *Observation) error
}

// Failure says what a check expected and what it saw instead.
type Failure struct {
	Expected string
	Seen     string
	Trace    string // the received trace as an indented tree, when it helps
}

func (f *Failure) Error() string { return "expected " + f.Expected + "; seen " + f.Seen }

func fail(expected, seen string) *Failure { return &Failure{Expected: expected, Seen: seen} }

// spec is a check in the catalog: which stages it applies to and, for each,
// the lesson step to read.
type spec struct {
	key, title, hint string
	steps            map[int]string // stage → step; the check applies to these stages
	run              func(o *Observation) error
}

func from(first int, step string) map[int]string {
	m := map[int]string{}
	for n := first; n <= 4; n++ {
		m[n] = step
	}
	return m
}

// catalog is every check, in report order. Ids are given per stage in this
// order, so keep additions at the end of their group.
var catalog = []spec{
	{"api", "The API answers rolls",
		"GET /roll?die=fair must answer 200 {\"roll\": n} with n a face of the die; compare your handler with the reference (workshop diff N --mine).",
		map[int]string{1: "1.3", 2: "2.1", 3: "3.2", 4: "4.1"}, checkAPI},
	{"bad-input", "Bad input is refused with a clear error",
		"Validate the die (then times) before any call, and answer 400 {\"error\": ...} naming the valid values; a wrong method is 405.",
		map[int]string{1: "1.3", 2: "2.1", 3: "3.3", 4: "4.1"}, checkBadInput},
	{"server-spans", "Server spans are named after the route",
		"Use otelhttp's middleware inside the chi router (r.Use), so the span is named \"GET /roll\" and carries http.route; wrapping the whole router names it just \"GET\".",
		from(1, "1.2"), checkServerSpans},
	{"roll-span", "The roll is described on its span",
		"On the dice-roller's server span set die.type (string), die.result (int) and die.error (bool) with span.SetAttributes.",
		from(1, "1.3"), checkRollSpan},
	{"http-metrics", "HTTP metrics are labelled with the route",
		"Label http_requests_total and http_request_duration_seconds with the chi route pattern (\"/roll\"), never r.URL: every query string would become a new series.",
		from(1, "1.4"), checkHTTPMetrics},
	{"dice-metrics", "Dice metrics count rolls and their values",
		"dice_rolls_total{die_type,result} counts rolls; dice_roll_value{die_type} is a histogram with buckets 1..8; unknown dice never become label values.",
		from(1, "1.5"), checkDiceMetrics},
	{"logs-json", "Logs are one JSON object per line",
		"Log with log/slog's JSON handler: timestamp (RFC 3339, UTC), level (INFO, WARNING, ERROR) and message on every line.",
		from(1, "1.6"), checkLogsJSON},
	{"logs-trace", "Logs carry the trace id of their request",
		"Log with the request's context (logger.InfoContext(ctx, ...)) through a handler that adds trace_id and span_id from the span in ctx.",
		from(1, "1.6"), checkLogsTrace},
	{"flush", "Spans are flushed on shutdown",
		"On SIGTERM, after srv.Shutdown, call the tracer provider's Shutdown with a fresh context and a timeout: the last batch is lost otherwise.",
		from(1, "1.1"), checkFlush},
	{"frontend-trace", "One trace from the frontend to the dice-roller",
		"Call the dice-roller with an otelhttp.NewTransport client and the request's ctx, and set the global W3C propagator: the traceparent header carries the trace.",
		from(2, "2.3"), checkFrontendTrace},
	{"frontend-span", "The frontend describes the call on its span",
		"On the frontend's server span set die.type, backend.status_code (int) and backend.url.",
		from(2, "2.2"), checkFrontendSpan},
	{"frontend-metrics", "The frontend measures what users see",
		"frontend_button_clicks_total{die_type}, frontend_requests_total{die_type,status_code} and frontend_request_duration_seconds{die_type}, with die_type a known die or \"unknown\".",
		from(2, "2.4"), checkFrontendMetrics},
	{"die-service", "The die-service counts and describes what it is asked",
		"die_specifications_requested_total{identifier} (\"unknown\" for unknown dice), die_list_requests_total, die_specifications_loaded; span attributes die.identifier and die.found.",
		from(3, "3.1"), checkDieService},
	{"lookup-metrics", "The dice-roller measures its lookups",
		"die_service_requests_total{identifier,status} with status success, not_found, error, timeout or unavailable, and die_service_request_duration_seconds.",
		from(3, "3.2"), checkLookupMetrics},
	{"three-service-trace", "One trace across three services",
		"The dice-roller must call the die-service with its instrumented client and the request's ctx: the die-service's span then joins the frontend's trace.",
		from(3, "3.4"), checkThreeServiceTrace},
	{"async-children", "Each roll of a batch is a child span of the request",
		"Start each async_roll_N span from the request's ctx inside the goroutine (ctx, span := tracer.Start(ctx, ...)); context.Background() orphans it, and reassigning ctx in the loop nests the rolls.",
		map[int]string{4: "4.2"}, checkAsyncChildren},
	{"async-overlap", "The rolls of a batch run concurrently",
		"Run each roll in its own goroutine (errgroup) and wait for all: the batch should take about as long as its slowest roll.",
		map[int]string{4: "4.1"}, checkAsyncOverlap},
	{"async-span", "The batch is described on the server span",
		"On GET /roll-async's span set async.batch_size and async.total_result as int attributes.",
		map[int]string{4: "4.3"}, checkAsyncSpan},
	{"async-metrics", "Async rolls have their own metrics",
		"async_rolls_total{die_type,result}, async_roll_batch_size (buckets 1,2,3,5,10,15,20), async_roll_duration_seconds and the async_rolls_in_progress gauge.",
		map[int]string{4: "4.4"}, checkAsyncMetrics},
}

// Catalog lists the checks of a stage, with their ids.
func Catalog(stage int) []Check {
	var out []Check
	for _, s := range catalog {
		step, ok := s.steps[stage]
		if !ok {
			continue
		}
		out = append(out, Check{
			ID: fmt.Sprintf("%d.%d", stage, len(out)+1), Key: s.key, Title: s.title,
			Step: step, Hint: s.hint, run: s.run,
		})
	}
	return out
}

// ---- helpers over the observation ----

func (o *Observation) answer(name string) (*Answer, error) {
	a, ok := o.Answers[name]
	if !ok {
		return nil, fmt.Errorf("the probe %q was not sent", name)
	}
	if a.Err != nil {
		return a, fail(fmt.Sprintf("an answer to %s %s", a.Method, a.URL), "no answer: "+a.Err.Error())
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
	return fail(fmt.Sprintf("span %q of %s with attributes %s", s.Name, s.Service, strings.Join(keys, ", ")), strings.Join(problems, "; "))
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

func withTrace(f *Failure, t otlp.Trace) *Failure {
	f.Trace = treeOf(t)
	return f
}

func (o *Observation) family(service, name string) (*dto.MetricFamily, *Failure) {
	if err := o.MetricsErr[service]; err != nil {
		return nil, fail(fmt.Sprintf("%s's /metrics", service), err.Error())
	}
	f, ok := o.Metrics[service][name]
	if !ok {
		return nil, fail(fmt.Sprintf("metric %s on %s's /metrics", name, service), "no such metric; "+o.similarMetrics(service, name))
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
	if len(near) == 0 {
		return "nothing similar"
	}
	sort.Strings(near)
	return "similar: " + strings.Join(near, ", ")
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
