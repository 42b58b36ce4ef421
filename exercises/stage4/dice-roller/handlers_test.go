package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/telemetry/telemetrytest"
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
			dieService := newFakeDieService(t)
			env := newRollerEnv(t, testConfig(dieService.URL), tt.adjust)
			seen := map[int]bool{}
			for range 30 {
				a := env.get(t, "/roll?die="+tt.die)
				assert.Equal(t, "application/json", a.header.Get("Content-Type"))
				v := a.roll(t)
				assert.Contains(t, tt.faces, v)
				seen[v] = true
			}
			assert.Greater(t, len(seen), 1, "30 rolls all showed the same face: the roll is not random")
			assert.Equal(t, int64(30), dieService.requests.Load(), "each roll looks its die up")
		})
	}
}

func TestRollAsyncAnswersABatch(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		times  int
		adjust func(*server)
		faces  []int
	}{
		{name: "one", query: "die=fair&times=1", times: 1, faces: []int{1, 2, 3, 4, 5, 6}},
		{name: "five", query: "die=fair&times=5", times: 5, faces: []int{1, 2, 3, 4, 5, 6}},
		{name: "the maximum", query: "times=20&die=fair", times: 20, faces: []int{1, 2, 3, 4, 5, 6}},
		{name: "leading zero", query: "die=fair&times=07", times: 7, faces: []int{1, 2, 3, 4, 5, 6}},
		{name: "risky", query: "die=risky&times=10", times: 10, adjust: fixedRandom(0.5), faces: []int{2, 3, 4, 5, 6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dieService := newFakeDieService(t)
			env := newRollerEnv(t, testConfig(dieService.URL), tt.adjust)
			a := env.get(t, "/roll-async?"+tt.query)

			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(a.raw), &raw))
			assert.ElementsMatch(t, []string{"total", "rolls", "count"}, keys(raw), "the answer's fields")

			b := a.batch(t)
			assert.Equal(t, tt.times, b.Count)
			require.Len(t, b.Rolls, tt.times)
			sum := 0
			for _, v := range b.Rolls {
				assert.Contains(t, tt.faces, v)
				sum += v
			}
			assert.Equal(t, sum, b.Total)
			assert.Equal(t, int64(1), dieService.requests.Load(), "one lookup per batch, not per roll")
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBadInputIsA400NamingTheValidValues(t *testing.T) {
	const (
		missingDie   = `missing query parameter "die"; valid: a die identifier known to the die-service`
		unknownDie   = `unknown die "loaded"; valid: doomed, fair, risky`
		missingTimes = `missing query parameter "times"; valid: an integer from 1 to 20`
	)
	invalidTimes := func(raw string) string {
		return `invalid times "` + raw + `"; valid: an integer from 1 to 20`
	}
	tests := []struct {
		name        string
		path        string
		wantMessage string
		wantEvent   string // the WARNING log line
		wantLookups int64  // requests that reach the die-service
	}{
		{"roll: die missing", "/roll", missingDie, "invalid die", 0},
		{"roll: die empty", "/roll?die=", missingDie, "invalid die", 0},
		{"roll: die unknown", "/roll?die=loaded", unknownDie, "invalid die", 1},
		{"async: die missing", "/roll-async?times=5", missingDie, "invalid die", 0},
		{"async: die unknown", "/roll-async?die=loaded&times=5", unknownDie, "invalid die", 1},
		{"async: die missing and times bad: die first", "/roll-async?times=abc", missingDie, "invalid die", 0},
		{"async: die missing and times missing", "/roll-async", missingDie, "invalid die", 0},
		{"async: times missing", "/roll-async?die=fair", missingTimes, "invalid times", 0},
		{"async: times empty", "/roll-async?die=fair&times=", missingTimes, "invalid times", 0},
		{"async: times not an integer", "/roll-async?die=fair&times=abc", invalidTimes("abc"), "invalid times", 0},
		{"async: times fractional", "/roll-async?die=fair&times=2.5", invalidTimes("2.5"), "invalid times", 0},
		{"async: times zero", "/roll-async?die=fair&times=0", invalidTimes("0"), "invalid times", 0},
		{"async: times negative", "/roll-async?die=fair&times=-3", invalidTimes("-3"), "invalid times", 0},
		{"async: times 21", "/roll-async?die=fair&times=21", invalidTimes("21"), "invalid times", 0},
		{"async: times huge", "/roll-async?die=fair&times=99999999999999999999", invalidTimes("99999999999999999999"), "invalid times", 0},
		// times is checked before the die-service is asked about the die.
		{"async: unknown die and bad times", "/roll-async?die=loaded&times=50", invalidTimes("50"), "invalid times", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dieService := newFakeDieService(t)
			env := newRollerEnv(t, testConfig(dieService.URL), nil)
			a := env.get(t, tt.path)

			assert.Equal(t, http.StatusBadRequest, a.status, a.raw)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.Contains(t, a.errorMessage(t), tt.wantMessage)
			assert.Equal(t, tt.wantLookups, dieService.requests.Load(), "calls to the die-service")

			events := env.rec.LogsWithMessage(t, tt.wantEvent)
			require.Len(t, events, 1, "one %q log line", tt.wantEvent)
			assert.Equal(t, "WARNING", events[0]["level"])
			assert.Contains(t, events[0]["error"], tt.wantMessage)
			checkLogLines(t, env.rec)

			// Invalid requests are not rolls: no business metric moves.
			assert.Nil(t, env.rec.Family(t, "dice_rolls_total"))
			assert.Nil(t, env.rec.Family(t, "async_rolls_total"), "an invalid request rolls nothing")
		})
	}
}

func TestWrongMethodAndUnknownPath(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantMessage  string
	}{
		{http.MethodPost, "/roll?die=fair", 405, "method POST not allowed; valid: GET"},
		{http.MethodDelete, "/roll-async?die=fair&times=2", 405, "method DELETE not allowed; valid: GET"},
		{"BREW", "/roll?die=fair", 405, "method BREW not allowed; valid: GET"},
		{http.MethodGet, "/rolls", 404, "no route /rolls; valid: /, /roll, /roll-async, /healthz, /metrics"},
		{http.MethodGet, "/roll/fair", 404, "no route /roll/fair; valid: /, /roll, /roll-async, /healthz, /metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			dieService := newFakeDieService(t)
			env := newRollerEnv(t, testConfig(dieService.URL), nil)
			a := env.do(t, tt.method, tt.path)
			assert.Equal(t, tt.wantStatus, a.status, a.raw)
			assert.Equal(t, tt.wantMessage, a.errorMessage(t))
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodGet, a.header.Get("Allow"))
			}
			assert.Zero(t, dieService.requests.Load())
		})
	}
}

func TestIndexAndHealth(t *testing.T) {
	env := newRollerEnv(t, testConfig(closedURL(t)), nil)
	a := env.get(t, "/")
	require.Equal(t, http.StatusOK, a.status)
	var index map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.raw), &index))
	assert.Equal(t, "dice-roller", index["service"])
	assert.Equal(t, float64(4), index["stage"])
	assert.Contains(t, index["endpoints"], "GET /roll-async?die={id}&times={1-20}")

	a = env.get(t, "/healthz")
	assert.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"status":"ok"}`, a.raw)
	env.get(t, "/metrics")
	assert.Equal(t, []string{"GET /"}, telemetrytest.Names(env.rec.Ended()), "probes and scrapes are not traced")
}

func TestDieServiceTroubleIsA503(t *testing.T) {
	brokenService := func(status int, body string) func(t *testing.T) string {
		return func(t *testing.T) string {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(ts.Close)
			return ts.URL
		}
	}
	tests := []struct {
		name       string
		dieService func(t *testing.T) string
		timeout    time.Duration // the lookup timeout
		wantStatus string
	}{
		// The real 2s timeout: these answers must come well before it.
		{"down (closed port)", closedURL, 2 * time.Second, lookupUnavailable},
		{"answers 500", brokenService(500, `{"error":"disk on fire"}`), 2 * time.Second, lookupError},
		{"answers garbage", brokenService(200, `<html>`), 2 * time.Second, lookupError},
		{"answers a die without faces", brokenService(200, `{"identifier":"fair","specification":{"faces":[]}}`), 2 * time.Second, lookupError},
		// A shorter timeout keeps the test fast; main's 2s is checked in TestLoadConfig.
		{"never answers", silentURL, 300 * time.Millisecond, lookupTimeout},
	}
	for _, tt := range tests {
		for _, path := range []string{"/roll?die=fair", "/roll-async?die=fair&times=3"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				cfg := testConfig(tt.dieService(t))
				cfg.lookupTimeout = tt.timeout
				env := newRollerEnv(t, cfg, nil)

				start := time.Now()
				a := env.get(t, path)
				took := time.Since(start)
				t.Logf("answered %d after %v", a.status, took)

				assert.Equal(t, http.StatusServiceUnavailable, a.status, a.raw)
				msg := a.errorMessage(t)
				assert.Contains(t, msg, `cannot look up die "fair"`)
				assert.Contains(t, msg, "die-service "+tt.wantStatus)
				if tt.wantStatus == lookupTimeout {
					assert.GreaterOrEqual(t, took, tt.timeout, "gave up before the lookup timeout")
				} else {
					assert.Less(t, took, tt.timeout, "a refused or broken die-service is reported without waiting for the timeout")
				}

				assert.Equal(t, float64(1), env.rec.CounterValue(t, "die_service_requests_total",
					map[string]string{"identifier": "unknown", "status": tt.wantStatus}))
				assert.Equal(t, 1.0, counterSum(t, env, "die_service_requests_total"), "one lookup, counted once")
				assert.Equal(t, uint64(1), histogram(t, env.rec, "die_service_request_duration_seconds", nil).GetSampleCount())
				assert.Nil(t, env.rec.Family(t, "dice_rolls_total"), "no roll happened")
				assert.Nil(t, env.rec.Family(t, "async_rolls_total"), "no roll happened")

				events := env.rec.LogsWithMessage(t, "die-service unavailable")
				require.Len(t, events, 1)
				assert.Equal(t, "ERROR", events[0]["level"])
				assert.Equal(t, tt.wantStatus, events[0]["status"])
				assert.Equal(t, "fair", events[0]["die_type"])
				checkLogLines(t, env.rec)

				server := env.rec.Span(t, "GET "+pathOnly(path))
				assert.Equal(t, codes.Error, server.Status().Code)
			})
		}
	}
}

func pathOnly(p string) string {
	path, _, _ := strings.Cut(p, "?")
	return path
}

func TestUnknownDieIsNotADieServiceOutage(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	for _, die := range []string{"loaded", "d%C3%A9", "FAIR", "fair%20"} {
		a := env.get(t, "/roll?die="+die)
		assert.Equal(t, http.StatusBadRequest, a.status, "die %s: an unknown die is the caller's mistake, not a 503", die)
	}
	assert.Equal(t, float64(4), env.rec.CounterValue(t, "die_service_requests_total",
		map[string]string{"identifier": "unknown", "status": lookupNotFound}))
	assert.Equal(t, []string{"unknown"}, uniqueValues(env.rec.LabelValues(t, "die_service_requests_total", "identifier")),
		"an unknown die never becomes a label value")
	assert.Empty(t, env.rec.LogsWithMessage(t, "die-service unavailable"))
	assert.Len(t, env.rec.LogsWithMessage(t, "invalid die"), 4)
	for _, s := range env.rec.SpansNamed("GET /roll") {
		assert.NotEqual(t, codes.Error, s.Status().Code, "a 400 is not a server error")
	}
}

func TestRollSpans(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	value := env.get(t, "/roll?die=fair&extra=ignored").roll(t)

	server := env.rec.Span(t, "GET /roll")
	assert.Equal(t, trace.SpanKindServer, server.SpanKind())
	assertAttrs(t, server, map[string]attribute.Value{
		"die.type":   attribute.StringValue("fair"),
		"die.result": attribute.Int64Value(int64(value)),
		"die.error":  attribute.BoolValue(false),
		"http.route": attribute.StringValue("/roll"),
	})
	assert.NotEqual(t, codes.Error, server.Status().Code)

	client := env.rec.Span(t, "GET /dice")
	assert.Equal(t, trace.SpanKindClient, client.SpanKind())
	assert.Equal(t, server.SpanContext(), client.Parent().WithRemote(false), "the lookup is a child of the server span")
	assert.Equal(t, server.SpanContext().TraceID(), client.SpanContext().TraceID())

	headers := dieService.requestHeaders()
	require.Len(t, headers, 1)
	sc := spanContextFromHeader(t, headers[0])
	assert.Equal(t, server.SpanContext().TraceID(), sc.TraceID(), "the die-service continues the same trace")
	assert.Equal(t, client.SpanContext().SpanID(), sc.SpanID(), "its parent is the client span")
}

func TestRollContinuesTheCallersTrace(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	req, err := http.NewRequest(http.MethodGet, env.ts.URL+"/roll-async?die=fair&times=2", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := env.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	for _, s := range env.rec.Ended() {
		assert.Equal(t, traceID, s.SpanContext().TraceID(), "span %s is in the caller's trace", s.Name())
	}
	server := env.rec.Span(t, "GET /roll-async")
	assert.Equal(t, spanID, server.Parent().SpanID())
	assert.True(t, server.Parent().IsRemote())
}

func TestFailingRoll(t *testing.T) {
	tests := []struct {
		name   string
		die    string
		adjust func(*server)
	}{
		{"a die that always fails", "doomed", nil},
		{"risky within its error rate", "risky", fixedRandom(0.05)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dieService := newFakeDieService(t)
			env := newRollerEnv(t, testConfig(dieService.URL), tt.adjust)
			a := env.get(t, "/roll?die="+tt.die)

			assert.Equal(t, http.StatusInternalServerError, a.status, a.raw)
			assert.Contains(t, a.errorMessage(t), "rolling "+tt.die+" failed")

			server := env.rec.Span(t, "GET /roll")
			assert.Equal(t, codes.Error, server.Status().Code)
			// otelhttp resets the status message on a 5xx: the exception event keeps the reason.
			require.NotEmpty(t, server.Events(), "the error is recorded on the span")
			assert.Equal(t, "exception", server.Events()[0].Name)
			assert.Contains(t, fmt.Sprint(server.Events()[0].Attributes), "the die rolled off the table")
			assertAttrs(t, server, map[string]attribute.Value{
				"die.type":  attribute.StringValue(tt.die),
				"die.error": attribute.BoolValue(true),
			})
			_, hasResult := attrOf(server, "die.result")
			assert.False(t, hasResult, "a failed roll has no result")

			assert.Equal(t, float64(1), env.rec.CounterValue(t, "dice_rolls_total",
				map[string]string{"die_type": tt.die, "result": resultError}))
			assert.Zero(t, env.rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": tt.die, "result": resultSuccess}))
			assert.Nil(t, env.rec.Metric(t, "dice_roll_value", map[string]string{"die_type": tt.die}), "no value was rolled")
			assert.Equal(t, float64(1), env.rec.CounterValue(t, "http_requests_total",
				map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))

			events := env.rec.LogsWithMessage(t, "roll failed")
			require.Len(t, events, 1)
			assert.Equal(t, "ERROR", events[0]["level"])
			assert.Equal(t, tt.die, events[0]["die_type"])
			assert.Equal(t, server.SpanContext().TraceID().String(), events[0]["trace_id"])
			assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
			checkLogLines(t, env.rec)
		})
	}
}

func TestMetricsAfterTraffic(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)

	for range 5 {
		env.get(t, "/roll?die=fair").roll(t)
	}
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=doomed").status)
	batches := []int{1, 2, 3, 5, 10, 15, 20}
	rolled := 0
	for _, n := range batches {
		b := env.get(t, "/roll-async?die=fair&times="+strconv.Itoa(n)).batch(t)
		require.Equal(t, n, b.Count)
		rolled += n
	}
	// Traffic that must not create new label values.
	for _, die := range []string{"loaded", "..%2F..", "x%00y"} {
		require.Equal(t, http.StatusBadRequest, env.get(t, "/roll?die="+die).status)
		require.Equal(t, http.StatusBadRequest, env.get(t, "/roll-async?times=2&die="+die).status)
	}
	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll-async?die=fair&times=0").status)
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, "BREW", "/roll?die=fair").status)
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, "PROPFIND", "/roll-async?die=fair&times=1").status)
	require.Equal(t, http.StatusNotFound, env.get(t, "/nope?die=fair").status)

	rec := env.rec
	// Single rolls.
	assert.Equal(t, float64(5), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "fair", "result": "success"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "doomed", "result": "error"}))
	values := histogram(t, rec, "dice_roll_value", map[string]string{"die_type": "fair"})
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6, 7, 8}, upperBounds(values))
	assert.Equal(t, uint64(5), values.GetSampleCount())
	assert.GreaterOrEqual(t, values.GetSampleSum(), 5.0)
	assert.LessOrEqual(t, values.GetSampleSum(), 30.0)
	assertExemplarsAreRecordedTraces(t, env, values)

	// Batches.
	assert.Equal(t, float64(rolled), rec.CounterValue(t, "async_rolls_total", map[string]string{"die_type": "fair", "result": "success"}))
	size := histogram(t, rec, "async_roll_batch_size", nil)
	assert.Equal(t, []float64{1, 2, 3, 5, 10, 15, 20}, upperBounds(size))
	assert.Equal(t, uint64(len(batches)), size.GetSampleCount(), "invalid batches are not counted")
	assert.Equal(t, float64(rolled), size.GetSampleSum())
	for i, b := range size.GetBucket() {
		assert.Equal(t, uint64(i+1), b.GetCumulativeCount(), "one batch per bucket, bucket le=%v", b.GetUpperBound())
	}
	duration := histogram(t, rec, "async_roll_duration_seconds", nil)
	assert.Equal(t, []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5}, upperBounds(duration))
	assert.Equal(t, uint64(len(batches)), duration.GetSampleCount())
	assert.Equal(t, float64(0), gaugeValue(t, rec, "async_rolls_in_progress"))

	// Lookups.
	assert.Equal(t, float64(5+len(batches)), rec.CounterValue(t, "die_service_requests_total",
		map[string]string{"identifier": "fair", "status": "success"}))
	assert.Equal(t, float64(6), rec.CounterValue(t, "die_service_requests_total",
		map[string]string{"identifier": "unknown", "status": "not_found"}))

	// HTTP.
	assert.Equal(t, float64(5), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))
	assert.Equal(t, float64(3), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(len(batches)), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll-async", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(4), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll-async", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "unmatched", "method": "GET", "status": "4xx"}))

	// Closed label sets.
	closed := []struct {
		family, label string
		allowed       []string
	}{
		{"dice_rolls_total", "die_type", []string{"fair", "doomed"}},
		{"dice_rolls_total", "result", []string{"success", "error"}},
		{"dice_roll_value", "die_type", []string{"fair"}},
		{"async_rolls_total", "die_type", []string{"fair", "doomed"}},
		{"die_service_requests_total", "identifier", []string{"fair", "doomed", "unknown"}},
		{"die_service_requests_total", "status", []string{"success", "not_found", "error", "timeout", "unavailable"}},
		{"http_requests_total", "handler", []string{"/", "/healthz", "/metrics", "/roll", "/roll-async", "unmatched"}},
		{"http_requests_total", "method", []string{"GET", "OTHER"}},
		{"http_requests_total", "status", []string{"2xx", "4xx", "5xx"}},
	}
	for _, c := range closed {
		got := uniqueValues(rec.LabelValues(t, c.family, c.label))
		assert.ElementsMatch(t, c.allowed, got, "%s{%s}", c.family, c.label)
	}
}
