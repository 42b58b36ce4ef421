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

	"github.com/go-o11y-workshop/kit/stages/stage2/internal/telemetry/telemetrytest"
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

func TestRollShowsTheFaceItDrew(t *testing.T) {
	tests := []struct {
		die   string
		index int
		want  int
	}{
		{die: "fair", index: 0, want: 1},
		{die: "fair", index: 5, want: 6},
		{die: "risky", index: 0, want: 2},
		{die: "risky", index: 5, want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.die+" "+itoa(tt.want), func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), func(s *server) { s.roller = fixedRoller(0, 0.5, tt.index) })
			a := env.get(t, "/roll?die="+tt.die)
			assert.JSONEq(t, `{"roll": `+itoa(tt.want)+`}`, a.raw)
		})
	}
}

func TestRiskyFailsAboutOneRollInTen(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	failures := 0
	for range 200 {
		a := env.get(t, "/roll?die=risky")
		if a.status == http.StatusInternalServerError {
			failures++
			continue
		}
		assert.Contains(t, []int{2, 3, 4, 5, 6, 7}, a.roll(t))
	}
	// 10% of 200 is 20: fewer than 3 or more than 59 is less likely than one
	// in a million.
	assert.Greater(t, failures, 2)
	assert.Less(t, failures, 60)
	for range 100 {
		require.Equal(t, http.StatusOK, env.get(t, "/roll?die=fair").status, "fair never fails")
	}
}

func TestBadInputIsA400NamingTheValidValues(t *testing.T) {
	const (
		missingDie = `missing query parameter "die"; valid: fair, risky`
	)
	unknownDie := func(die string) string {
		return `unknown die "` + die + `"; valid: fair, risky`
	}
	tests := []struct {
		name        string
		path        string
		wantMessage string
		wantEvent   string // the WARNING log line
	}{
		{"roll: die missing", "/roll", missingDie, "invalid die"},
		{"roll: die empty", "/roll?die=", missingDie, "invalid die"},
		{"roll: die unknown", "/roll?die=loaded", unknownDie("loaded"), "invalid die"},
		{"roll: die names are case-sensitive", "/roll?die=FAIR", unknownDie("FAIR"), "invalid die"},
		{"roll: die with quotes", "/roll?die=%22d20%22", unknownDie(`\"d20\"`), "invalid die"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), nil)
			a := env.get(t, tt.path)

			assert.Equal(t, http.StatusBadRequest, a.status, a.raw)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.Equal(t, tt.wantMessage, a.errorMessage(t))

			events := env.rec.LogsWithMessage(t, tt.wantEvent)
			require.Len(t, events, 1, "one %q log line", tt.wantEvent)
			assert.Equal(t, "WARNING", events[0]["level"])
			assert.Equal(t, tt.wantMessage, events[0]["error"])
			checkLogLines(t, env.rec)

			// Invalid requests are not rolls: no business metric moves.
			assert.Zero(t, rollsCounted(t, env.rec))
			assert.Nil(t, env.rec.Family(t, "dice_roll_value"))
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
		{http.MethodGet, "/roll-async?die=fair&times=2", 404, "no route /roll-async; valid: /, /roll, /healthz, /metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), nil)
			a := env.do(t, tt.method, tt.path)
			assert.Equal(t, tt.wantStatus, a.status, a.raw)
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
	assert.JSONEq(t, `{"service": "dice-roller", "stage": 2, "endpoints": ["GET /roll?die={id}", "GET /healthz", "GET /metrics"]}`,
		a.raw)

	a = env.get(t, "/healthz")
	assert.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"status":"ok"}`, a.raw)
	env.get(t, "/metrics")
	assert.Equal(t, []string{"GET /"}, telemetrytest.Names(env.rec.Ended()), "probes and scrapes are not traced")
}

func TestRollSpans(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	value := env.get(t, "/roll?die=fair&extra=ignored").roll(t)

	server := env.rec.Span(t, "GET /roll")
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
	assert.False(t, server.Parent().IsValid(), "no traceparent: the trace starts here")
	assert.Equal(t, []string{"GET /roll"}, telemetrytest.Names(env.rec.Ended()),
		"stage 2's dice-roller calls no other service: one span per roll")
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
	assert.Equal(t, spanID, server.Parent().SpanID(), "the server span is a child of the caller's span")
	assert.True(t, server.Parent().IsRemote())
	for _, line := range checkLogLines(t, env.rec) {
		assert.Equal(t, traceID.String(), line["trace_id"], "the log lines link to the caller's trace")
	}
}

func TestFailingRoll(t *testing.T) {
	tests := []struct {
		name   string
		die    string
		adjust func(*server)
	}{
		{"a die that always fails", "doomed", withTestDice},
		{"risky within its error rate", "risky", fixedRandom(0.05)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRollerEnv(t, testConfig(), tt.adjust)
			a := env.get(t, "/roll?die="+tt.die)

			assert.Equal(t, http.StatusInternalServerError, a.status, a.raw)
			assert.Equal(t, "rolling "+tt.die+" failed: the die rolled off the table", a.errorMessage(t))

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

func TestRollLogs(t *testing.T) {
	env := newRollerEnv(t, testConfig(), func(s *server) { s.roller = fixedRoller(0, 0.5, 1) })
	env.get(t, "/roll?die=fair")
	server := env.rec.Span(t, "GET /roll")

	lines := checkLogLines(t, env.rec) // JSON, with the fields and ids every line needs
	require.Len(t, lines, 2, "%v", lines)
	assert.Equal(t, "roll request received", lines[0]["message"])
	assert.Equal(t, "roll result", lines[1]["message"])
	assert.Equal(t, 2.0, lines[1]["roll_value"])
	for _, line := range lines {
		assert.Equal(t, "INFO", line["level"])
		assert.Equal(t, "fair", line["die_type"])
		assert.Equal(t, server.SpanContext().TraceID().String(), line["trace_id"])
		assert.Equal(t, server.SpanContext().SpanID().String(), line["span_id"])
	}
}

// TestRollCountersStartAtZero: each known die's series exist before the
// first roll, at 0, so that rate() sees the first roll (and the first
// error) as an increase.
func TestRollCountersStartAtZero(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	f := env.rec.Family(t, "dice_rolls_total")
	require.NotNil(t, f, "dice_rolls_total has no series before the first roll")
	var got []string
	for _, m := range f.GetMetric() {
		got = append(got, m.GetLabel()[0].GetValue()+"/"+m.GetLabel()[1].GetValue()) // die_type/result
		assert.Zero(t, m.GetCounter().GetValue())
	}
	assert.ElementsMatch(t, []string{"fair/success", "fair/error", "risky/success", "risky/error"}, got)
}

func TestMetricsAfterTraffic(t *testing.T) {
	env := newRollerEnv(t, testConfig(), withTestDice)

	for range 5 {
		env.get(t, "/roll?die=fair").roll(t)
	}
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=doomed").status)
	// Traffic that must not create new label values.
	for _, die := range []string{"loaded", "..%2F..", "x%00y", "unknown"} {
		require.Equal(t, http.StatusBadRequest, env.get(t, "/roll?die="+die).status)
	}
	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll").status)
	require.Equal(t, http.StatusMethodNotAllowed, env.do(t, "BREW", "/roll?die=fair").status)
	require.Equal(t, http.StatusNotFound, env.get(t, "/nope?die=fair").status)

	rec := env.rec
	assert.Equal(t, float64(5), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "fair", "result": "success"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "dice_rolls_total", map[string]string{"die_type": "doomed", "result": "error"}))
	values := histogram(t, rec, "dice_roll_value", map[string]string{"die_type": "fair"})
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6, 7, 8}, upperBounds(values))
	assert.Equal(t, uint64(5), values.GetSampleCount())
	assert.GreaterOrEqual(t, values.GetSampleSum(), 5.0)
	assert.LessOrEqual(t, values.GetSampleSum(), 30.0)
	assertExemplarsAreRecordedTraces(t, env, values)

	// HTTP.
	assert.Equal(t, float64(5), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "5xx"}))
	assert.Equal(t, float64(5), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Equal(t, float64(1), rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "unmatched", "method": "GET", "status": "4xx"}))
	assert.NotNil(t, histogram(t, rec, "http_request_duration_seconds", map[string]string{"handler": "/roll", "method": "GET"}))

	// Closed label sets.
	closed := []struct {
		family, label string
		allowed       []string
	}{
		{"dice_rolls_total", "die_type", []string{"fair", "risky", "doomed"}}, // the known dice from the start, doomed from its roll
		{"dice_rolls_total", "result", []string{"success", "error"}},
		{"dice_roll_value", "die_type", []string{"fair"}},
		{"http_requests_total", "handler", []string{"/", "/roll", "/healthz", "/metrics", "unmatched"}}, // every route, from zero
		{"http_requests_total", "method", []string{"GET", "OTHER"}},
		{"http_requests_total", "status", []string{"2xx", "4xx", "5xx"}},
	}
	for _, c := range closed {
		got := uniqueValues(rec.LabelValues(t, c.family, c.label))
		assert.ElementsMatch(t, c.allowed, got, "%s{%s}", c.family, c.label)
	}

	// Stage 2 has no die-service and no concurrent rolling.
	for _, name := range []string{"die_service_requests_total", "die_service_request_duration_seconds",
		"async_rolls_total", "async_roll_batch_size", "async_roll_duration_seconds", "async_rolls_in_progress"} {
		assert.Nil(t, rec.Family(t, name), "stage 2 exports no %s", name)
	}
	a := env.get(t, "/metrics")
	require.Equal(t, http.StatusOK, a.status)
	for _, name := range []string{"dice_rolls_total", "dice_roll_value", "http_requests_total", "http_request_duration_seconds"} {
		assert.Contains(t, a.raw, "# TYPE "+name+" ", "/metrics exports %s", name)
	}
	assert.NotContains(t, a.raw, "loaded")
}

// TestClientThatLeavesStopsTheRoll: a client that goes away during the
// delay stops the roll, which is then neither counted nor answered, and
// leaves no goroutine behind.
func TestClientThatLeavesStopsTheRoll(t *testing.T) {
	before := goleak.IgnoreCurrent()
	env := newRollerEnv(t, config{maxDelay: time.Hour}, fixedRandom(0.5)) // a 30-minute delay

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.ts.URL+"/roll?die=fair", nil)
		resp, err := env.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return len(env.rec.LogsWithMessage(t, "roll request received")) == 1 },
		5*time.Second, 5*time.Millisecond, "the request never arrived")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	require.Eventually(t, func() bool { return len(env.rec.LogsWithMessage(t, "roll cancelled")) == 1 },
		5*time.Second, 5*time.Millisecond, "the handler kept waiting after the client left")
	env.ts.Close() // waits for the handler to return
	assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
	assert.Zero(t, rollsCounted(t, env.rec), "a cancelled roll is not counted")
	goleak.VerifyNone(t, before)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
