package check

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// cannedRun is what a run of a stage would observe, written by hand: the
// answers to every probe of the table, the /metrics pages as text, the
// spans received and the services' log lines. As built by canned it is
// what the reference stage produces, so every check passes on it; a test
// changes one fact and sees its check fail. No build, no process.
type cannedRun struct {
	stage    int
	services []string
	answers  map[string]*Answer
	metrics  map[string]string // service → its /metrics page
	spans    []otlp.Span
	logs     map[string][]string
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// canned builds the observation of a reference stage n.
func canned(n int) *cannedRun {
	layout, err := stage.Layout(n)
	if err != nil {
		panic(err)
	}
	c := &cannedRun{stage: n, answers: map[string]*Answer{}, metrics: map[string]string{}, logs: map[string][]string{}}
	for _, s := range layout {
		c.services = append(c.services, s.Name)
	}
	o := &Observation{Stage: n, Services: c.services}
	at := t0
	for _, ph := range []phase{phaseTraffic, phaseMetrics, phaseSync, phaseLast} {
		for i, p := range o.probesOf(ph) {
			a := &Answer{Name: p.name, Service: p.service, Method: p.method, URL: "http://127.0.0.1:1" + p.target,
				Status: p.status, TraceID: fmt.Sprintf("%032x", len(c.answers)+1), SpanID: fmt.Sprintf("%016x", i+1000*int(ph)+1),
				Sent: at, Done: at.Add(60 * time.Millisecond)}
			if a.Status == 0 {
				a.Status = http.StatusOK
			}
			a.Body = []byte(cannedBody(p))
			c.answers[p.name] = a
			at = at.Add(100 * time.Millisecond)
		}
	}
	for _, s := range c.services {
		c.metrics[s] = cannedMetrics(s, n)
		c.logs[s] = []string{logLine("INFO", "starting", "", "")}
	}
	c.addSpans()
	return c
}

func cannedBody(p probe) string {
	switch {
	case p.refused != nil && p.status == http.StatusMethodNotAllowed:
		return ""
	case p.refused != nil && strings.HasPrefix(p.name, "times-"):
		return `{"error": "times must be a whole number from 1 to 20"}`
	case p.refused != nil:
		return `{"error": "unknown die \"no-such-die\"; valid: fair, risky"}`
	case p.name == "async":
		return `{"rolls": [1, 2, 3, 4, 5, 6, 1, 2, 3, 4], "total": 31, "count": 10}`
	case p.service == "die-service":
		return `{"identifier": "fair", "specification": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0}}`
	case p.name == "page":
		return "<html></html>"
	}
	return `{"roll": 4}`
}

func logLine(level, msg, traceID, spanID string, fields ...string) string {
	m := map[string]any{"timestamp": t0.Format(time.RFC3339Nano), "level": level, "message": msg}
	if traceID != "" {
		m["trace_id"], m["span_id"] = traceID, spanID
	}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fields[i]] = fields[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// span makes a span of the trace of answer a, its parent the given span id.
func (c *cannedRun) span(a *Answer, service, name, kind string, parent string, attrs map[string]any) otlp.Span {
	if attrs == nil {
		attrs = map[string]any{}
	}
	id := fmt.Sprintf("%016x", len(c.spans)+1<<20)
	s := otlp.Span{TraceID: a.TraceID, SpanID: id, ParentSpanID: parent, Name: name, Service: service, Kind: kind,
		Start: a.Sent.Add(time.Duration(len(c.spans)%5) * time.Millisecond), End: a.Done.Add(-5 * time.Millisecond), Attributes: attrs}
	c.spans = append(c.spans, s)
	return s
}

// server is the server span of a service for a request, with the HTTP
// attributes otelhttp sets.
func (c *cannedRun) server(a *Answer, service, route, parent string, attrs map[string]any) otlp.Span {
	all := map[string]any{"http.route": route, "http.request.method": "GET", "http.response.status_code": int64(a.Status)}
	for k, v := range attrs {
		all[k] = v
	}
	return c.span(a, service, "GET "+route, "Server", parent, all)
}

func (c *cannedRun) addSpans() {
	rollAttrs := func() map[string]any {
		return map[string]any{"die.type": "fair", "die.result": int64(4), "die.error": false}
	}
	// The dice-roller's lookup of the die in the die-service, from stage 3.
	lookup := func(a *Answer, roller otlp.Span) {
		if c.stage < 3 {
			return
		}
		client := c.span(a, "dice-roller", "GET", "Client", roller.SpanID, nil)
		c.server(a, "die-service", "/dice", client.SpanID, map[string]any{"die.identifier": "fair", "die.found": true})
	}
	for _, name := range []string{"roll", "sync-dice-roller", "last-roll"} {
		a := c.answers[name]
		roller := c.server(a, "dice-roller", "/roll", a.SpanID, rollAttrs())
		lookup(a, roller)
		if name == "roll" {
			c.logs["dice-roller"] = append(c.logs["dice-roller"],
				logLine("INFO", "roll result", roller.TraceID, roller.SpanID, "die_type", "fair"))
		}
	}
	if c.stage >= 2 {
		for _, name := range []string{"page", "sync-frontend"} {
			c.server(c.answers[name], "frontend", "/", c.answers[name].SpanID, nil)
		}
		a := c.answers["frontend-roll"]
		fe := c.server(a, "frontend", "/roll", a.SpanID, map[string]any{"die.type": "fair", "backend.status_code": int64(200), "backend.url": "http://localhost:8107/roll?die=fair"})
		client := c.span(a, "frontend", "GET", "Client", fe.SpanID, nil)
		lookup(a, c.server(a, "dice-roller", "/roll", client.SpanID, rollAttrs()))
	}
	if c.stage >= 3 {
		for _, name := range []string{"dice-list", "sync-die-service"} {
			c.server(c.answers[name], "die-service", "/dice", c.answers[name].SpanID, nil)
		}
		c.server(c.answers["dice-spec"], "die-service", "/dice", c.answers["dice-spec"].SpanID, map[string]any{"die.identifier": "fair", "die.found": true})
		c.server(c.answers["unknown-identifier"], "die-service", "/dice", c.answers["unknown-identifier"].SpanID, map[string]any{"die.identifier": "unknown", "die.found": false})
		// The frontend's fetch of the die list at startup, a trace of its own.
		start := &Answer{TraceID: fmt.Sprintf("%032x", 0xd1ce), Status: http.StatusOK, Sent: t0.Add(-time.Second), Done: t0.Add(-time.Second + 50*time.Millisecond)}
		load := c.span(start, "frontend", "load die list", "Internal", "", nil)
		client := c.span(start, "frontend", "GET /dice", "Client", load.SpanID, map[string]any{"url.full": "http://localhost:8103/dice", "http.request.method": "GET"})
		c.server(start, "die-service", "/dice", client.SpanID, nil)
	}
	if c.stage >= 4 {
		a := c.answers["async"]
		fe := c.span(a, "frontend", "GET /roll-async", "Server", a.SpanID, nil)
		client := c.span(a, "frontend", "GET", "Client", fe.SpanID, nil)
		server := c.span(a, "dice-roller", "GET /roll-async", "Server", client.SpanID,
			map[string]any{"async.batch_size": int64(asyncTimes), "async.total_result": int64(31)})
		for i := range asyncTimes {
			c.span(a, "dice-roller", fmt.Sprintf("async_roll_%d", i), "Internal", server.SpanID,
				map[string]any{"async.roll_index": int64(i), "die.result": int64(1 + i%6), "die.error": false})
			// Concurrent rolls: each starts at once and lasts 40 ms.
			c.spans[len(c.spans)-1].Start, c.spans[len(c.spans)-1].End = a.Sent.Add(time.Millisecond), a.Sent.Add(41*time.Millisecond)
		}
	}
}

// histogram writes a histogram in the text format.
func histogram(name, labels string, bounds ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# TYPE %s histogram\n", name)
	sep := ""
	if labels != "" {
		sep = ","
	}
	for _, le := range append(bounds, "+Inf") {
		fmt.Fprintf(&b, "%s_bucket{%s%sle=%q} 3\n", name, labels, sep, le)
	}
	fmt.Fprintf(&b, "%s_sum{%s} 4.5\n%s_count{%s} 3\n", name, labels, name, labels)
	return b.String()
}

func cannedMetrics(service string, n int) string {
	route := "/roll"
	if service == "die-service" {
		route = "/dice"
	}
	m := fmt.Sprintf("# TYPE http_requests_total counter\n"+
		"http_requests_total{handler=%q,method=\"GET\",status=\"2xx\"} 3\n"+
		"http_requests_total{handler=%q,method=\"GET\",status=\"4xx\"} 2\n", route, route) +
		histogram("http_request_duration_seconds", fmt.Sprintf(`handler=%q,method="GET"`, route), "0.1", "1") +
		"# TYPE go_goroutines gauge\ngo_goroutines 7\n"
	switch service {
	case "dice-roller":
		m += "# TYPE dice_rolls_total counter\ndice_rolls_total{die_type=\"fair\",result=\"success\"} 3\n" +
			histogram("dice_roll_value", `die_type="fair"`, "1", "2", "3", "4", "5", "6", "7", "8")
		if n >= 3 {
			m += "# TYPE die_service_requests_total counter\n" +
				"die_service_requests_total{identifier=\"fair\",status=\"success\"} 3\n" +
				"die_service_requests_total{identifier=\"unknown\",status=\"not_found\"} 1\n" +
				histogram("die_service_request_duration_seconds", "", "0.1", "1")
		}
		if n >= 4 {
			m += "# TYPE async_rolls_total counter\nasync_rolls_total{die_type=\"fair\",result=\"success\"} 10\n" +
				histogram("async_roll_batch_size", "", "1", "2", "3", "5", "10", "15", "20") +
				histogram("async_roll_duration_seconds", "", "0.1", "1") +
				"# TYPE async_rolls_in_progress gauge\nasync_rolls_in_progress 0\n"
		}
	case "frontend":
		m += "# TYPE frontend_button_clicks_total counter\nfrontend_button_clicks_total{die_type=\"fair\"} 1\n" +
			"# TYPE frontend_requests_total counter\nfrontend_requests_total{die_type=\"fair\",status_code=\"200\"} 1\n" +
			"frontend_requests_total{die_type=\"unknown\",status_code=\"400\"} 1\n" +
			histogram("frontend_request_duration_seconds", `die_type="fair"`, "0.1", "1")
	case "die-service":
		m += "# TYPE die_specifications_requested_total counter\n" +
			"die_specifications_requested_total{identifier=\"fair\"} 3\ndie_specifications_requested_total{identifier=\"unknown\"} 1\n" +
			"# TYPE die_list_requests_total counter\ndie_list_requests_total 1\n" +
			"# TYPE die_specifications_loaded gauge\ndie_specifications_loaded 2\n"
	}
	return m
}

// observation assembles what the checks read, the metrics parsed as a run
// parses them.
func (c *cannedRun) observation() *Observation {
	o := &Observation{Stage: c.stage, Services: c.services, Answers: map[string]*Answer{},
		Metrics: map[string]map[string]*dto.MetricFamily{}, MetricsErr: map[string]error{}, Store: otlp.NewStore(otlp.DefaultLimits)}
	for name, a := range c.answers {
		cp := *a
		o.Answers[name] = &cp
	}
	for _, s := range c.services {
		if a := o.Answers["metrics-"+s]; a != nil {
			a.Body = []byte(c.metrics[s])
			o.Metrics[s], o.MetricsErr[s] = parseMetrics(a)
		}
		for _, l := range c.logs[s] {
			o.AddLog(s, []byte(l))
		}
	}
	o.Store.AddSpans(c.spans...)
	return o
}

// ---- changes a test makes to a canned run ----

// spansWhere applies change to every span that matches.
func (c *cannedRun) spansWhere(match func(otlp.Span) bool, change func(*otlp.Span)) *cannedRun {
	for i := range c.spans {
		if match(c.spans[i]) {
			change(&c.spans[i])
		}
	}
	return c
}

func (c *cannedRun) dropSpans(match func(otlp.Span) bool) *cannedRun {
	c.spans = slices.DeleteFunc(c.spans, match)
	return c
}

func named(service, name string) func(otlp.Span) bool {
	return func(s otlp.Span) bool { return s.Service == service && s.Name == name }
}

// inTrace matches the spans of a probe's trace.
func (c *cannedRun) inTrace(probe string, match func(otlp.Span) bool) func(otlp.Span) bool {
	return func(s otlp.Span) bool { return s.TraceID == c.answers[probe].TraceID && match(s) }
}

func setAttr(k string, v any) func(*otlp.Span) {
	return func(s *otlp.Span) {
		attrs := map[string]any{}
		for key, val := range s.Attributes {
			attrs[key] = val
		}
		if v == nil {
			delete(attrs, k)
		} else {
			attrs[k] = v
		}
		s.Attributes = attrs
	}
}

func (c *cannedRun) metric(service, old, new string) *cannedRun {
	if !strings.Contains(c.metrics[service], old) {
		panic(fmt.Sprintf("canned metrics of %s have no %q", service, old))
	}
	c.metrics[service] = strings.ReplaceAll(c.metrics[service], old, new)
	return c
}
