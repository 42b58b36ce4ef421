// Package check verifies a stage module the way a grader would: it runs the
// stage, sends it known traffic, and checks what comes back — the answers,
// the metrics, the spans received over OTLP and the logs — against a table
// of checks, each with an id, a title, a hint and the lesson step to read.
package check

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
	needs need
}

// spec is a check in the catalog: which stages it applies to and, for each,
// the lesson step to read.
type spec struct {
	key, title, hint string
	steps            map[int]string // stage → step; the check applies to these stages
	where            []*place
	run              func(o *Observation) error
	needs            need
}

// need is what a check reads besides the stage's startup.
type need int

const (
	// needsTraffic: the answers, spans, metrics or log lines of the probe
	// traffic. When the stage does not answer it, the check is skipped.
	needsTraffic need = iota
	// needsStartup: what a started stage has printed already; evaluated
	// even when the stage does not answer.
	needsStartup
)

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
		[]*place{pRoll, pRelay, pDieLookup, pRollAsync, pBatch}, checkAPI, needsTraffic},
	{"bad-input", "Bad input is refused with a clear error",
		`Bad input is the caller's mistake: refuse it with 400 and a JSON body {"error": "..."} that names the valid values, before any roll (from stage 3 the die-service says which dice exist); a 5xx says the server failed. A wrong method is the router's 405.`,
		map[int]string{1: "1.3", 2: "2.1", 3: "3.3", 4: "4.1"},
		[]*place{pRoll, pServerLookup, pResolveDie, pRelay, pHandleDice, pParseTimes}, checkBadInput, needsTraffic},
	{"server-spans", "Server spans are named after the route",
		"otelhttp's middleware can name a server span after the route (\"GET /roll\") and set http.route only when it runs inside the chi router (r.Use), where the matched route is known; wrapped around the whole router it only sees the method.",
		from(1, "1.2"), []*place{pTraceRequests, pRollerRoutes}, checkServerSpans, needsTraffic},
	{"roll-span", "The roll is described on its span",
		"The server span travels in the request's context (trace.SpanFromContext). Describe the roll on it with typed attributes: die.type a string, die.result an int, die.error a bool (attribute.String, attribute.Int, attribute.Bool).",
		from(1, "1.3"), []*place{pRoll}, checkRollSpan, needsTraffic},
	{"http-metrics", "HTTP metrics are labelled with the route",
		"Label http_requests_total and http_request_duration_seconds with the route pattern the router matched (chi's RoutePattern, \"/roll\"), never with r.URL: every query string would become a new series.",
		from(1, "1.4"), []*place{pHTTPMetrics}, checkHTTPMetrics, needsTraffic},
	{"dice-metrics", "Dice metrics count rolls and their values",
		"Two metrics on the service's registry: a CounterVec dice_rolls_total{die_type,result} counted once per roll (result success or error), and a HistogramVec dice_roll_value{die_type} with one bucket per face value, 1 to 8. Only known dice become label values.",
		from(1, "1.5"), []*place{pDiceMetrics, pRollMetrics}, checkDiceMetrics, needsTraffic},
	{"logs-json", "Logs are one JSON object per line",
		"log/slog's JSON handler writes one object per line; the kit's logger names the keys timestamp (RFC 3339, UTC), level (INFO, WARNING, ERROR) and message.",
		from(1, "1.6"), []*place{pLogger}, checkLogsJSON, needsStartup},
	{"logs-trace", "Logs carry the trace id of their request",
		"A slog.Handler that wraps the JSON one can read the span from the context each record is logged with (trace.SpanContextFromContext) and add trace_id and span_id; it only sees a span when the line is logged with the request's ctx (InfoContext).",
		from(1, "1.6"), []*place{pLogHandler}, checkLogsTrace, needsTraffic},
	{"flush", "Spans are flushed on shutdown",
		"The batching tracer provider keeps the last spans in memory until its next export. Its Shutdown exports them: SetupOTelSDK returns it, and the service calls it on the way out with a context that is not already cancelled.",
		from(1, "1.1"), []*place{pSDK, pShutdown}, checkFlush, needsTraffic},
	{"frontend-trace", "One trace from the frontend to the dice-roller",
		"Two pieces carry a trace over HTTP: a global propagator (otel.SetTextMapPropagator with propagation.TraceContext) that writes and reads the traceparent header, and a client whose transport is otelhttp's (otelhttp.NewTransport), sending a request made with the incoming request's ctx.",
		from(2, "2.3"), []*place{pPropagator, pHTTPClient, pFrontendGet}, checkFrontendTrace, needsTraffic},
	{"frontend-span", "The frontend describes the call on its span",
		"On the frontend's server span (trace.SpanFromContext) record what it asked and what it got: die.type (string), backend.url (string) and backend.status_code (int).",
		from(2, "2.2"), []*place{pRelaySpan, pCallDiceRoller}, checkFrontendSpan, needsTraffic},
	{"frontend-metrics", "The frontend measures what users see",
		"Three metrics labelled by die_type, a known die or \"unknown\": frontend_button_clicks_total{die_type}, frontend_requests_total{die_type,status_code} with the status code as a string, and the histogram frontend_request_duration_seconds{die_type}.",
		from(2, "2.4"), []*place{pFrontendMetrics, pRelay}, checkFrontendMetrics, needsTraffic},
	{"die-service", "The die-service counts and describes what it is asked",
		"The die-service counts what it is asked (die_specifications_requested_total{identifier}, \"unknown\" for an identifier it does not know, and die_list_requests_total), shows how many dice it loaded (the gauge die_specifications_loaded), and describes each answer on its span: die.identifier (string), die.found (bool).",
		from(3, "3.1"), []*place{pDieServiceMetrics, pHandleDice}, checkDieService, needsTraffic},
	{"lookup-metrics", "The dice-roller measures its lookups",
		"Count each question to the die-service by identifier and outcome, die_service_requests_total{identifier,status} with status success, not_found, error, timeout or unavailable (classify names the outcome of an error), and time it with the histogram die_service_request_duration_seconds.",
		from(3, "3.2"), []*place{pLookupMetrics, pDieLookup, pClassify}, checkLookupMetrics, needsTraffic},
	{"three-service-trace", "One trace across three services",
		"A request to the die-service joins the trace of what caused it only when it is made with the caller's ctx (http.NewRequestWithContext) and sent by the instrumented client (the telemetry package's NewHTTPClient, built on otelhttp.NewTransport): the dice-roller's lookup of a die, and the frontend's fetch of the die list under \"load die list\".",
		from(3, "3.4"), []*place{pDieServiceClient, pDieFetch, pDiceListFetch}, checkThreeServiceTrace, needsTraffic},
	{"async-children", "Each roll of a batch is a child span of the request",
		"Each goroutine starts its own span from the request's ctx (tracer.Start returns a new ctx: keep it inside the goroutine). A span started from context.Background() is the root of a trace of its own, and one ctx variable reassigned across the loop nests each roll under the one before.",
		map[int]string{4: "4.2"}, []*place{pRollOne, pBatch}, checkAsyncChildren, needsTraffic},
	{"async-overlap", "The rolls of a batch run concurrently",
		"Each roll runs in a goroutine of its own (an errgroup's Go) and the handler waits for all of them (Wait): the batch then takes about as long as its slowest roll, not the sum of them.",
		map[int]string{4: "4.1"}, []*place{pBatch}, checkAsyncOverlap, needsTraffic},
	{"async-span", "The batch is described on the server span",
		"On the server span of GET /roll-async (trace.SpanFromContext) put the batch's summary as int attributes (attribute.Int): async.batch_size once times is valid, async.total_result once the batch succeeded.",
		map[int]string{4: "4.3"}, []*place{pRollAsync}, checkAsyncSpan, needsTraffic},
	{"async-metrics", "Async rolls have their own metrics",
		"async_rolls_total{die_type,result} counted in each roll's goroutine; the histograms async_roll_batch_size (buckets 1, 2, 3, 5, 10, 15, 20) and async_roll_duration_seconds observed once per batch; the gauge async_rolls_in_progress raised when a roll starts and lowered, deferred, when it ends.",
		map[int]string{4: "4.4"}, []*place{pAsyncMetrics, pAsyncBornAtZero, pRollOneMetrics, pRollAsyncMetrics}, checkAsyncMetrics, needsTraffic},
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
			Where: resolve(stage, s.where), run: s.run, needs: s.needs,
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
