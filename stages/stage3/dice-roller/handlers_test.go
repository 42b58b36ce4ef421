package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/go-o11y-workshop/kit/stages/stage3/internal/telemetry/telemetrytest"
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

func TestBadInputIsA400NamingTheValidValues(t *testing.T) {
	const (
		missingDie = `missing query parameter "die"; valid: a die identifier known to the die-service`
		unknownDie = `unknown die "loaded"; valid: doomed, fair, risky`
	)
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
		{"BREW", "/roll?die=fair", 405, "method BREW not allowed; valid: GET"},
		{http.MethodGet, "/rolls", 404, "no route /rolls; valid: /, /roll, /healthz, /metrics"},
		{http.MethodGet, "/roll/fair", 404, "no route /roll/fair; valid: /, /roll, /healthz, /metrics"},
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
	assert.Equal(t, float64(3), index["stage"])
	assert.Contains(t, index["endpoints"], "GET /roll?die={id}")

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
	const shortTimeout = 300 * time.Millisecond
	tests := []struct {
		name       string
		dieService func(t *testing.T) string
		wantStatus string
	}{
		{"down (closed port)", closedURL, lookupUnavailable},
		{"never answers", silentURL, lookupTimeout},
		{"answers 500", brokenService(500, `{"error":"disk on fire"}`), lookupError},
		{"answers garbage", brokenService(200, `<html>`), lookupError},
		{"answers a die without faces", brokenService(200, `{"identifier":"fair","specification":{"faces":[]}}`), lookupError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.dieService(t))
			cfg.lookupTimeout = shortTimeout
			env := newRollerEnv(t, cfg, nil)

			start := time.Now()
			a := env.get(t, "/roll?die=fair")
			took := time.Since(start)
			t.Logf("answered %d after %v", a.status, took)

			assert.Equal(t, http.StatusServiceUnavailable, a.status, a.raw)
			msg := a.errorMessage(t)
			assert.Contains(t, msg, `cannot look up die "fair"`)
			assert.Contains(t, msg, "die-service "+tt.wantStatus)
			if tt.wantStatus == lookupTimeout {
				assert.GreaterOrEqual(t, took, shortTimeout, "gave up before the lookup timeout")
			} else {
				assert.Less(t, took, shortTimeout, "a refused or broken die-service is reported without waiting for the timeout")
			}

			assert.Equal(t, float64(1), env.rec.CounterValue(t, "die_service_requests_total",
				map[string]string{"identifier": "unknown", "status": tt.wantStatus}))
			assert.Equal(t, 1.0, counterSum(t, env, "die_service_requests_total"), "one lookup, counted once")
			assert.Equal(t, uint64(1), histogram(t, env.rec, "die_service_request_duration_seconds", nil).GetSampleCount())
			assert.Nil(t, env.rec.Family(t, "dice_rolls_total"), "no roll happened")

			events := env.rec.LogsWithMessage(t, "die-service unavailable")
			require.Len(t, events, 1)
			assert.Equal(t, "ERROR", events[0]["level"])
			assert.Equal(t, tt.wantStatus, events[0]["status"])
			assert.Equal(t, "fair", events[0]["die_type"])
			checkLogLines(t, env.rec)

			server := env.rec.Span(t, "GET /roll")
			assert.Equal(t, codes.Error, server.Status().Code)
		})
	}
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
	req, err := http.NewRequest(http.MethodGet, env.ts.URL+"/roll?die=fair", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := env.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	for _, s := range env.rec.Ended() {
		assert.Equal(t, traceID, s.SpanContext().TraceID(), "span %s is in the caller's trace", s.Name())
	}
	server := env.rec.Span(t, "GET /roll")
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
	// Traffic that must not create new label values.
	for _, die := range []string{"loaded", "..%2F..", "x%00y"} {
		require.Equal(t, http.StatusBadRequest, env.get(t, "/roll?die="+die).status)
	}
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, "BREW", "/roll?die=fair").status)
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

	// Lookups.
	assert.Equal(t, float64(5), rec.CounterValue(t, "die_service_requests_total",
		map[string]string{"identifier": "fair", "status": "success"}))
	assert.Equal(t, float64(3), rec.CounterValue(t, "die_service_requests_total",
		map[string]string{"identifier": "unknown", "status": "not_found"}))

	// HTTP.
	assert.Equal(t, float64(5), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))
	assert.Equal(t, float64(3), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "unmatched", "method": "GET", "status": "4xx"}))

	// Closed label sets.
	closed := []struct {
		family, label string
		allowed       []string
	}{
		{"dice_rolls_total", "die_type", []string{"fair", "doomed"}},
		{"dice_rolls_total", "result", []string{"success", "error"}},
		{"dice_roll_value", "die_type", []string{"fair"}},
		{"die_service_requests_total", "identifier", []string{"fair", "doomed", "unknown"}},
		{"die_service_requests_total", "status", []string{"success", "not_found", "error", "timeout", "unavailable"}},
		{"http_requests_total", "handler", []string{"/", "/healthz", "/metrics", "/roll", "unmatched"}},
		{"http_requests_total", "method", []string{"GET", "OTHER"}},
		{"http_requests_total", "status", []string{"2xx", "4xx", "5xx"}},
	}
	for _, c := range closed {
		got := uniqueValues(rec.LabelValues(t, c.family, c.label))
		assert.ElementsMatch(t, c.allowed, got, "%s{%s}", c.family, c.label)
	}
}

func TestRollLogs(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	v := env.get(t, "/roll?die=fair").roll(t)
	env.get(t, "/roll?die=loaded")
	checkLogLines(t, env.rec)

	received := env.rec.LogsWithMessage(t, "roll request received")
	require.Len(t, received, 2)
	assert.Equal(t, "INFO", received[0]["level"])
	assert.Equal(t, "fair", received[0]["die_type"])

	result := env.rec.LogsWithMessage(t, "roll result")
	require.Len(t, result, 1)
	assert.Equal(t, "INFO", result[0]["level"])
	assert.Equal(t, "fair", result[0]["die_type"])
	assert.Equal(t, float64(v), result[0]["roll_value"])

	invalid := env.rec.LogsWithMessage(t, "invalid die")
	require.Len(t, invalid, 1)
	assert.Equal(t, "WARNING", invalid[0]["level"])
	assert.Contains(t, invalid[0]["error"], `unknown die "loaded"`)
}

// verifyNoLeaks checks, once the test and its cleanups are done, that no
// goroutine started during the test is still running.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func TestClientGoingAwayStopsTheRoll(t *testing.T) {
	verifyNoLeaks(t)
	dieService := newFakeDieService(t)
	cfg := testConfig(dieService.URL)
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
	cancel()
	assert.ErrorIs(t, <-clientErr, context.Canceled)
	require.Eventually(t, func() bool { return len(env.rec.SpansNamed("GET /roll")) == 1 },
		cfg.maxDelay-time.Second, 5*time.Millisecond, "the roll kept waiting after the client left")

	cancelled := env.rec.LogsWithMessage(t, "roll cancelled")
	require.Len(t, cancelled, 1)
	assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
	assert.Zero(t, counterSum(t, env, "dice_rolls_total"), "a cancelled roll is neither a success nor an error")
	// Answered 499, so the request counts as a 4xx, not as a success.
	span := env.rec.Span(t, "GET /roll")
	status, _ := telemetrytest.Attr(span, "http.response.status_code")
	assert.Equal(t, int64(499), status.AsInt64())
	assert.Equal(t, 1.0, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Zero(t, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
}
