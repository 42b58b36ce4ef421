package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/go-o11y-workshop/kit/stages/stage1/internal/telemetry"
	"github.com/go-o11y-workshop/kit/stages/stage1/internal/telemetry/telemetrytest"
)

func TestRollAnswersAFaceOfTheDie(t *testing.T) {
	tests := []struct {
		die    string
		adjust func(*server)
		faces  []int
	}{
		{die: "fair", faces: []int{1, 2, 3, 4, 5, 6}},
		// risky fails 10% of the time; 0.5 never fails, so the face is checked.
		{die: "risky", adjust: fixedRandom(0.5), faces: []int{2, 3, 4, 5, 6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.die, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), tt.adjust)
			seen := map[int]bool{}
			for range 30 {
				a := env.get(t, "/roll?die="+tt.die)
				assert.Equal(t, "application/json", a.header.Get("Content-Type"))
				v := a.roll(t)
				assert.Contains(t, tt.faces, v)
				seen[v] = true
			}
			assert.Greater(t, len(seen), 1, "30 rolls all showed the same face: the roll is not random")
		})
	}
}

func TestRollShowsTheLowestAndHighestFace(t *testing.T) {
	tests := []struct {
		die   string
		index int
		want  int
	}{
		{"fair", 0, 1}, {"fair", 5, 6},
		{"risky", 0, 2}, {"risky", 5, 7}, // a fair die plus one
	}
	for _, tt := range tests {
		env := newRollerEnv(t, testConfig(), fixedFace(tt.index))
		a := env.get(t, "/roll?die="+tt.die)
		assert.JSONEq(t, `{"roll": `+itoa(tt.want)+`}`, a.raw, "%s face %d", tt.die, tt.index)
	}
}

func TestFacesOverManyRolls(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil) // real randomness, no delay
	roll := func(die string, n int) (faces []int, failures int) {
		seen := map[int]bool{}
		for range n {
			a := env.get(t, "/roll?die="+die)
			if a.status == http.StatusInternalServerError {
				failures++
				continue
			}
			seen[a.roll(t)] = true
		}
		for f := range seen {
			faces = append(faces, f)
		}
		return faces, failures
	}

	fair, fairFailures := roll("fair", 300)
	assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6}, fair, "fair shows 1 to 6, each of them")
	assert.Zero(t, fairFailures, "fair never fails")

	risky, riskyFailures := roll("risky", 1000)
	assert.ElementsMatch(t, []int{2, 3, 4, 5, 6, 7}, risky, "risky shows 2 to 7, each of them")
	// 10% of 1000 is 100, with a standard deviation under 10.
	assert.InDelta(t, 100, riskyFailures, 50, "risky fails about one roll in ten")

	assert.Len(t, env.rec.LogsWithMessage(t, "roll failed"), riskyFailures)
}

// TestRollCountersMatchTheAnswers: with real randomness, dice_rolls_total
// counts exactly the answers given, success and error apart, and
// dice_roll_value holds one observation per face shown.
func TestRollCountersMatchTheAnswers(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil) // real randomness, no delay
	answers := map[string]map[string]float64{}
	for _, die := range []string{"fair", "risky"} {
		answers[die] = map[string]float64{}
		for range 300 {
			result := resultSuccess
			if env.get(t, "/roll?die="+die).status == http.StatusInternalServerError {
				result = resultError
			}
			answers[die][result]++
		}
	}
	require.Positive(t, answers["risky"][resultError], "300 risky rolls without a failure")

	for die, byResult := range answers {
		for _, result := range []string{resultSuccess, resultError} {
			assert.Equal(t, byResult[result], env.rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": die, "result": result}),
				"dice_rolls_total{die_type=%q,result=%q}", die, result)
		}
		assert.Equal(t, uint64(byResult[resultSuccess]), histogram(t, env.rec, "dice_roll_value", map[string]string{"die_type": die}).GetSampleCount(),
			"dice_roll_value{die_type=%q} observes each face shown, and no failure", die)
	}
}

// TestRollCountersStartAtZero: each known die's series exist before the
// first roll, at 0, so that rate() sees the first roll (and the first
// error) as an increase. Nothing else is created in advance.
func TestRollCountersStartAtZero(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)

	f := env.rec.Family(t, "dice_rolls_total")
	require.NotNil(t, f, "dice_rolls_total has no series before the first roll")
	var got []string
	for _, m := range f.GetMetric() {
		got = append(got, labelValueOf(m, "die_type")+"/"+labelValueOf(m, "result"))
		assert.Zero(t, m.GetCounter().GetValue(), "no roll yet: %v", m.GetLabel())
	}
	assert.ElementsMatch(t, []string{"fair/success", "fair/error", "risky/success", "risky/error"}, got,
		"one series per known die and result, and no other")
}

func TestFairNeverFails(t *testing.T) {
	// The lowest possible draw fails every die whose error rate is above 0.
	env := newRollerEnv(t, testConfig(), fixedRandom(0))
	assert.Equal(t, http.StatusOK, env.get(t, "/roll?die=fair").status)
	assert.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=risky").status)
}

func TestBadInputIsA400NamingTheValidValues(t *testing.T) {
	const missingDie = `missing query parameter "die"; valid: fair, risky`
	tests := []struct {
		name        string
		path        string
		wantMessage string
	}{
		{"die missing", "/roll", missingDie},
		{"die empty", "/roll?die=", missingDie},
		{"die unknown", "/roll?die=x", `unknown die "x"; valid: fair, risky`},
		{"dice are case-sensitive", "/roll?die=FAIR", `unknown die "FAIR"; valid: fair, risky`},
		{"a die of a later stage", "/roll?die=loaded", `unknown die "loaded"; valid: fair, risky`},
		// The die is quoted: no input can forge a line of the log.
		{"die with quote and newline", "/roll?die=a%22b%0A", `unknown die "a\"b\n"; valid: fair, risky`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), nil)
			a := env.get(t, tt.path)

			assert.Equal(t, http.StatusBadRequest, a.status, a.raw)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.Equal(t, tt.wantMessage, a.errorMessage(t))

			events := env.rec.LogsWithMessage(t, "invalid die")
			require.Len(t, events, 1, "one %q log line", "invalid die")
			assert.Equal(t, "WARNING", events[0]["level"])
			assert.Equal(t, tt.wantMessage, events[0]["error"])
			checkLogShape(t, env.rec)

			// Invalid requests are not rolls: no business metric moves.
			assert.Zero(t, rollsCounted(t, env.rec))
			assert.Nil(t, env.rec.Family(t, "dice_roll_value"))
			server := env.rec.Span(t, "GET /roll")
			assert.NotEqual(t, codes.Error, server.Status().Code, "a 400 is the caller's mistake, not a server error")
		})
	}
}

func TestErrorMessagesNameEveryDie(t *testing.T) {
	for _, die := range knownDice().identifiers() {
		assert.Contains(t, errMissingDie.Error(), die, "errMissingDie is out of date")
	}
}

func TestWrongMethodAndUnknownPath(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantMessage  string
	}{
		{http.MethodPost, "/roll?die=fair", 405, "method POST not allowed; valid: GET"},
		{http.MethodDelete, "/", 405, "method DELETE not allowed; valid: GET"},
		{"BREW", "/roll?die=fair", 405, "method BREW not allowed; valid: GET"},
		{http.MethodGet, "/rolls", 404, "no route /rolls; valid: /, /roll, /healthz, /metrics"},
		{http.MethodGet, "/roll/fair", 404, "no route /roll/fair; valid: /, /roll, /healthz, /metrics"},
		// Stage 4 adds it; until then it does not exist.
		{http.MethodGet, "/roll-async?die=fair&times=2", 404, "no route /roll-async; valid: /, /roll, /healthz, /metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), nil)
			a := env.do(t, tt.method, tt.path)
			assert.Equal(t, tt.wantStatus, a.status, a.raw)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.Equal(t, tt.wantMessage, a.errorMessage(t))
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodGet, a.header.Get("Allow"))
			}
			assert.Zero(t, rollsCounted(t, env.rec))
		})
	}
}

func TestIndexAndHealth(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	a := env.get(t, "/")
	require.Equal(t, http.StatusOK, a.status)
	var index map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.raw), &index))
	assert.Equal(t, "dice-roller", index["service"])
	assert.Equal(t, float64(1), index["stage"])
	assert.Equal(t, []any{"fair", "risky"}, index["dice"])
	assert.Equal(t, []any{"GET /roll?die={id}", "GET /healthz", "GET /metrics"}, index["endpoints"])

	a = env.get(t, "/healthz")
	assert.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"status":"ok"}`, a.raw)
	a = env.get(t, "/metrics")
	assert.Equal(t, http.StatusOK, a.status)
	assert.ElementsMatch(t, []string{"GET /"}, telemetrytest.Names(env.rec.Ended()), "probes and scrapes are not traced")
}

func TestRollSpans(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	value := env.get(t, "/roll?die=fair&extra=ignored").roll(t)

	spans := env.rec.Ended()
	require.Len(t, spans, 1, "one span per request: %v", telemetrytest.Names(spans))
	server := env.rec.Span(t, "GET /roll") // the route, never the URL with its query
	assert.Equal(t, trace.SpanKindServer, server.SpanKind())
	assertAttrs(t, server, map[string]attribute.Value{
		"die.type":                  attribute.StringValue("fair"),
		"die.result":                attribute.Int64Value(int64(value)),
		"die.error":                 attribute.BoolValue(false),
		"http.route":                attribute.StringValue("/roll"),
		"http.request.method":       attribute.StringValue("GET"),
		"http.response.status_code": attribute.Int64Value(200),
	})
	assert.NotEqual(t, codes.Error, server.Status().Code)
	assert.False(t, server.Parent().IsValid(), "no traceparent: a new trace")
}

func TestRollContinuesTheCallersTrace(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	req, err := http.NewRequest(http.MethodGet, env.ts.URL+"/roll?die=fair", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := env.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	server := env.rec.Span(t, "GET /roll")
	assert.Equal(t, traceID, server.SpanContext().TraceID(), "the span is in the caller's trace")
	assert.Equal(t, spanID, server.Parent().SpanID())
	assert.True(t, server.Parent().IsRemote())
	for _, l := range checkLogLines(t, env.rec) {
		assert.Equal(t, traceID.String(), l["trace_id"], "the logs are in the caller's trace too")
	}
}

func TestUnmatchedPath(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	require.Equal(t, http.StatusNotFound, env.get(t, "/nope/deeper?die=fair").status)

	spans := env.rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "GET", spans[0].Name(), "no route, so no route in the span name, and never the raw path")
	_, hasRoute := attrOf(spans[0], "http.route")
	assert.False(t, hasRoute)
	assert.Contains(t, env.rec.LabelValues(t, "http_requests_total", "handler"), telemetry.UnmatchedRoute)
	assert.NotContains(t, env.rec.LabelValues(t, "http_requests_total", "handler"), "/nope/deeper", "never the raw path")
	assert.Equal(t, float64(1), env.rec.CounterValue(t, "http_requests_total",
		map[string]string{"handler": "unmatched", "method": "GET", "status": "4xx"}))
}

// A failed roll is told by all three signals; each has its own test, so
// that each exercise gets feedback of its own.

// risky's error rate is 0.1: a draw of 0.05 fails it.
var failRisky = fixedRandom(0.05)

func TestFailingRoll(t *testing.T) {
	env := newRollerEnv(t, testConfig(), failRisky)
	a := env.get(t, "/roll?die=risky")

	assert.Equal(t, http.StatusInternalServerError, a.status, a.raw)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.Equal(t, "rolling risky failed: the die rolled off the table", a.errorMessage(t))
	assert.Equal(t, float64(1), env.rec.CounterValue(t, "http_requests_total",
		map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))

	events := env.rec.LogsWithMessage(t, "roll failed")
	require.Len(t, events, 1)
	assert.Equal(t, "ERROR", events[0]["level"])
	assert.Equal(t, "risky", events[0]["die_type"])
	assert.Equal(t, "the die rolled off the table", events[0]["error"])
	assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
	checkLogShape(t, env.rec)
}

// TestFailingRollSpan (exercise 1.3): the server span is marked as failed and
// keeps the reason.
func TestFailingRollSpan(t *testing.T) {
	env := newRollerEnv(t, testConfig(), failRisky)
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=risky").status)

	server := env.rec.Span(t, "GET /roll")
	assert.Equal(t, codes.Error, server.Status().Code, "span.SetStatus(codes.Error, ...) on a failed roll")
	// otelhttp sets the status again, without a message, on a 5xx: the
	// exception event is what keeps the reason.
	require.NotEmpty(t, server.Events(), "span.RecordError(err) records the error on the span")
	assert.Equal(t, "exception", server.Events()[0].Name)
	assert.Contains(t, fmt.Sprint(server.Events()[0].Attributes), "the die rolled off the table")
	assertAttrs(t, server, map[string]attribute.Value{
		"die.type":  attribute.StringValue("risky"),
		"die.error": attribute.BoolValue(true),
	})
	_, hasResult := attrOf(server, "die.result")
	assert.False(t, hasResult, "a failed roll has no die.result")
}

// TestFailingRollIsCountedAsAnError (exercise 1.5).
func TestFailingRollIsCountedAsAnError(t *testing.T) {
	env := newRollerEnv(t, testConfig(), failRisky)
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=risky").status)

	assert.Equal(t, float64(1), env.rec.CounterValue(t, "dice_rolls_total",
		map[string]string{"die_type": "risky", "result": resultError}), `dice_rolls_total{die_type="risky",result="error"}`)
	assert.Equal(t, float64(1), rollsCounted(t, env.rec), "one roll, counted once")
	assert.Nil(t, env.rec.Metric(t, "dice_roll_value", map[string]string{"die_type": "risky"}), "no value was rolled")
}

// TestFailedRollLogPointsToItsSpan (exercise 1.6): the ERROR line leads to the
// failed request's span.
func TestFailedRollLogPointsToItsSpan(t *testing.T) {
	env := newRollerEnv(t, testConfig(), failRisky)
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=risky").status)

	server := env.rec.Span(t, "GET /roll")
	events := env.rec.LogsWithMessage(t, "roll failed")
	require.Len(t, events, 1)
	assert.Equal(t, server.SpanContext().TraceID().String(), events[0]["trace_id"], "the ERROR line's trace_id")
	assert.Equal(t, server.SpanContext().SpanID().String(), events[0]["span_id"], "the ERROR line's span_id")
	checkLogLines(t, env.rec)
}

func TestRollLogs(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	v := env.get(t, "/roll?die=fair").roll(t)
	env.get(t, "/roll?die=loaded")
	checkLogLines(t, env.rec) // JSON, timestamp, level, and ids of a recorded span

	received := env.rec.LogsWithMessage(t, "roll request received")
	require.Len(t, received, 2)
	assert.Equal(t, "INFO", received[0]["level"])
	assert.Equal(t, "fair", received[0]["die_type"])

	result := env.rec.LogsWithMessage(t, "roll result")
	require.Len(t, result, 1)
	assert.Equal(t, "INFO", result[0]["level"])
	assert.Equal(t, "fair", result[0]["die_type"])
	assert.Equal(t, float64(v), result[0]["roll_value"])
	assert.Equal(t, received[0]["span_id"], result[0]["span_id"], "both lines belong to the request's span")

	invalid := env.rec.LogsWithMessage(t, "invalid die")
	require.Len(t, invalid, 1)
	assert.Equal(t, "WARNING", invalid[0]["level"])
	assert.Contains(t, invalid[0]["error"], `unknown die "loaded"`)
}

func TestMetricsAfterTraffic(t *testing.T) {
	env := newRollerEnv(t, testConfig(), fixedFace(3)) // fair shows 4, risky 5

	for range 5 {
		require.Equal(t, 4, env.get(t, "/roll?die=fair").roll(t))
	}
	require.Equal(t, 5, env.get(t, "/roll?die=risky").roll(t))
	fixedRandom(0.05)(env.srv) // from now on risky fails
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=risky").status)
	// Traffic that must not create new label values.
	for _, die := range []string{"x", "loaded", "..%2F..", "x%00y", "unknown"} {
		require.Equal(t, http.StatusBadRequest, env.get(t, "/roll?die="+die).status)
	}
	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll").status)
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, "BREW", "/roll?die=fair").status)
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, http.MethodPost, "/roll?die=fair").status)
	require.Equal(t, http.StatusNotFound, env.get(t, "/nope?die=fair").status)

	rec := env.rec
	// Names and types.
	for name, typ := range map[string]string{
		"dice_rolls_total":              "COUNTER",
		"dice_roll_value":               "HISTOGRAM",
		"http_requests_total":           "COUNTER",
		"http_request_duration_seconds": "HISTOGRAM",
	} {
		f := rec.Family(t, name)
		if assert.NotNil(t, f, "no metric %s", name) {
			assert.Equal(t, typ, f.GetType().String(), name)
		}
	}
	// Label names.
	for name, labels := range map[string][]string{
		"dice_rolls_total":              {"die_type", "result"},
		"dice_roll_value":               {"die_type"},
		"http_requests_total":           {"handler", "method", "status"},
		"http_request_duration_seconds": {"handler", "method"},
	} {
		for _, m := range rec.Family(t, name).GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			assert.ElementsMatch(t, labels, got, "labels of %s", name)
		}
	}

	// Rolls.
	assert.Equal(t, float64(5), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "fair", "result": "success"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "risky", "result": "success"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "risky", "result": "error"}))
	values := histogram(t, rec, "dice_roll_value", map[string]string{"die_type": "fair"})
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6, 7, 8}, upperBounds(values), "one bucket per face value")
	var cumulative []uint64
	for _, b := range values.GetBucket() {
		cumulative = append(cumulative, b.GetCumulativeCount())
	}
	assert.Equal(t, []uint64{0, 0, 0, 5, 5, 5, 5, 5}, cumulative, "five 4s")
	assert.Equal(t, uint64(5), values.GetSampleCount())
	assert.Equal(t, float64(20), values.GetSampleSum())
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6, 7, 8},
		upperBounds(histogram(t, rec, "dice_roll_value", map[string]string{"die_type": "risky"})))
	assertExemplarsAreRecordedTraces(t, env, values)

	// HTTP.
	assert.Equal(t, float64(6), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))
	assert.Equal(t, float64(6), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "unmatched", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "unmatched", "method": "OTHER", "status": "4xx"}),
		"an odd method is OTHER, and a 405 matched no route")
	assert.Equal(t, uint64(13), histogram(t, rec, "http_request_duration_seconds",
		map[string]string{"handler": "/roll", "method": "GET"}).GetSampleCount())

	// Closed label sets.
	closed := []struct {
		family, label string
		allowed       []string
	}{
		{"dice_rolls_total", "die_type", []string{"fair", "risky"}},
		{"dice_rolls_total", "result", []string{"success", "error"}},
		{"dice_roll_value", "die_type", []string{"fair", "risky"}},
		{"http_requests_total", "handler", []string{"/", "/roll", "/healthz", "/metrics", "unmatched"}}, // every route, from zero
		{"http_requests_total", "method", []string{"GET", "POST", "OTHER"}},
		{"http_requests_total", "status", []string{"2xx", "4xx", "5xx"}},
	}
	for _, c := range closed {
		got := uniqueValues(rec.LabelValues(t, c.family, c.label))
		assert.ElementsMatch(t, c.allowed, got, "%s{%s}", c.family, c.label)
	}

	// What a Prometheus scrape sees.
	scrape := env.get(t, "/metrics").raw
	for _, want := range []string{
		"# TYPE dice_rolls_total counter",
		`dice_rolls_total{die_type="fair",result="success"} 5`,
		`dice_rolls_total{die_type="risky",result="error"} 1`,
		"# TYPE dice_roll_value histogram",
		`dice_roll_value_bucket{die_type="fair",le="4"} 5`,
		`dice_roll_value_bucket{die_type="fair",le="8"} 5`,
		`http_requests_total{handler="/roll",method="GET",status="2xx"} 6`,
		"# TYPE http_request_duration_seconds histogram",
	} {
		assert.Contains(t, scrape, want)
	}
	for _, never := range []string{`"x"`, `"loaded"`, `"unknown"`, "BREW", "/nope", "?die="} {
		assert.NotContains(t, scrape, never, "user input must never become a label value")
	}
}

// verifyNoLeaks checks, once the test and its cleanups are done, that no
// goroutine started during the test is still running.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func TestClientGoingAwayStopsTheRoll(t *testing.T) {
	verifyNoLeaks(t) // first: its cleanup runs after the server is closed
	cfg := testConfig()
	cfg.maxDelay = 5 * time.Second
	rolling := make(chan struct{}, 1)
	env := newRollerEnv(t, cfg, func(s *server) {
		s.roller.randFloat = func() float64 {
			select {
			case rolling <- struct{}{}: // the roll's delay is being chosen
			default:
			}
			return 0.99
		}
	})
	defer env.ts.Client().CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ts.URL+"/roll?die=fair", nil)
	require.NoError(t, err)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := env.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()

	<-rolling
	start := time.Now()
	cancel()
	assert.ErrorIs(t, <-clientErr, context.Canceled)
	require.Eventually(t, func() bool { return len(env.rec.SpansNamed("GET /roll")) == 1 },
		cfg.maxDelay-time.Second, 5*time.Millisecond, "the roll kept waiting after the client left")
	t.Logf("the roll stopped %v after the client left", time.Since(start))

	cancelled := env.rec.LogsWithMessage(t, "roll cancelled")
	require.Len(t, cancelled, 1)
	assert.Equal(t, "INFO", cancelled[0]["level"])
	assert.Contains(t, cancelled[0]["error"], "context canceled")
	assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
	assert.Zero(t, rollsCounted(t, env.rec), "a cancelled roll is neither a success nor an error")
	// Answered 499, so the request counts as a 4xx, not as a success.
	span := env.rec.Span(t, "GET /roll")
	status, _ := telemetrytest.Attr(span, "http.response.status_code")
	assert.Equal(t, int64(499), status.AsInt64())
	assert.Equal(t, 1.0, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Zero(t, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
