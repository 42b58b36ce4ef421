package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry/telemetrytest"
)

var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// spansOfKind returns the ended spans called name of the given kind: the
// frontend's server span and its client span are both called "GET /roll".
func spansOfKind(rec *telemetrytest.Recorder, name string, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.SpansNamed(name) {
		if s.SpanKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// waitSpan waits for the one span called name of the given kind. A span is
// recorded when it ends, which can be just after the client has its answer.
func waitSpan(t *testing.T, rec *telemetrytest.Recorder, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	ok := assert.Eventually(t, func() bool { return len(spansOfKind(rec, name, kind)) > 0 },
		5*time.Second, 5*time.Millisecond)
	spans := spansOfKind(rec, name, kind)
	require.Truef(t, ok && len(spans) == 1, "want one %s span %q; ended spans: %v",
		kind, name, telemetrytest.Names(rec.Ended()))
	return spans[0]
}

// attr returns a span attribute and whether it is set.
func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	return telemetrytest.Attr(s, key)
}

// traceparentOf decodes a traceparent header with the W3C propagator.
func traceparentOf(header string) trace.SpanContext {
	carrier := propagation.HeaderCarrier(http.Header{"Traceparent": {header}})
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
}

func TestOneTraceFromTheFrontendIntoTheDiceRoller(t *testing.T) {
	tests := []struct {
		target, span, backendPath string
	}{
		{"/roll?die=fair", "GET /roll", "/roll?die=fair"},
	}
	for _, tt := range tests {
		t.Run(tt.span, func(t *testing.T) {
			s := newStack(t, nil)

			status, _, _ := get(t, s.frontend.URL+tt.target)
			require.Equal(t, http.StatusOK, status)

			server := waitSpan(t, s.frontend.rec, tt.span, trace.SpanKindServer)
			client := waitSpan(t, s.frontend.rec, tt.span, trace.SpanKindClient)
			assert.False(t, server.Parent().IsValid(), "the trace starts in the frontend")
			assert.Equal(t, server.SpanContext().TraceID(), client.SpanContext().TraceID())
			assert.Equal(t, server.SpanContext().SpanID(), client.Parent().SpanID(),
				"the client span is a child of the server span")

			// What the dice-roller receives makes its server span a child of
			// the frontend's client span.
			calls := s.diceRoller.Calls()
			require.Len(t, calls, 1)
			require.NotEmpty(t, calls[0].Traceparent, "the dice-roller got no traceparent header")
			remote := traceparentOf(calls[0].Traceparent)
			require.Truef(t, remote.IsValid(), "invalid traceparent %q", calls[0].Traceparent)
			assert.Equal(t, client.SpanContext().TraceID(), remote.TraceID(), "one trace id across both services")
			assert.Equal(t, client.SpanContext().SpanID(), remote.SpanID(), "the parent is the frontend's client span")
			assert.True(t, remote.IsSampled())

			assertAttr(t, server, "die.type", attribute.StringValue("fair"))
			assertAttr(t, server, "backend.status_code", attribute.Int64Value(200))
			assertAttr(t, server, "backend.url", attribute.StringValue(s.diceRoller.URL+tt.backendPath))
			assertAttr(t, server, "http.route", attribute.StringValue(strings.TrimPrefix(tt.span, "GET ")))
			assert.NotEqual(t, codes.Error, server.Status().Code)
		})
	}
}

// assertAttr checks an attribute's value and type (an int64 is not a string).
func assertAttr(t *testing.T, s sdktrace.ReadOnlySpan, key string, want attribute.Value) {
	t.Helper()
	got, ok := attr(s, key)
	if assert.Truef(t, ok, "span %q has no attribute %q", s.Name(), key) {
		assert.Equalf(t, want.Type(), got.Type(), "type of %q", key)
		assert.Equalf(t, want.String(), got.String(), "value of %q", key)
	}
}

func TestTheFrontendContinuesAnIncomingTrace(t *testing.T) {
	s := newStack(t, nil)
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.frontend.URL+"/roll?die=fair", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", incoming)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	server := waitSpan(t, s.frontend.rec, "GET /roll", trace.SpanKindServer)
	parent := traceparentOf(incoming)
	assert.Equal(t, parent.TraceID(), server.SpanContext().TraceID())
	assert.Equal(t, parent.SpanID(), server.Parent().SpanID())
	calls := s.diceRoller.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, parent.TraceID(), traceparentOf(calls[0].Traceparent).TraceID())
}

func TestRollMetrics(t *testing.T) {
	// fair rolls succeed, risky rolls fail: two status codes from the dice-roller.
	s := newStack(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("die") == "risky" {
			answerWith(http.StatusInternalServerError, `{"error": "rolling risky failed"}`)(w, r)
			return
		}
		answerLikeDiceRoller(w, r)
	})
	for _, target := range []string{
		"/roll?die=fair", "/roll?die=fair", // 200
		"/roll?die=risky", // 500
		"/roll?die=nope",  // 400
	} {
		get(t, s.frontend.URL+target)
	}
	rec := s.frontend.rec

	clicks := map[string]float64{"fair": 2, "risky": 1, "unknown": 1}
	for die, want := range clicks {
		assert.Equal(t, want, rec.CounterValue(t, "frontend_button_clicks_total", map[string]string{"die_type": die}), "clicks of %s", die)
	}
	requests := []struct {
		die, code string
		want      float64
	}{{"fair", "200", 2}, {"risky", "500", 1}, {"unknown", "400", 1}}
	for _, r := range requests {
		assert.Equal(t, r.want, rec.CounterValue(t, "frontend_requests_total",
			map[string]string{"die_type": r.die, "status_code": r.code}), "requests %s/%s", r.die, r.code)
	}
	assert.ElementsMatch(t, rollStatuses, unique(rec.LabelValues(t, "frontend_requests_total", "status_code")),
		"every status a roll ends with, from the start")
	for die, want := range clicks {
		h := rec.Metric(t, "frontend_request_duration_seconds", map[string]string{"die_type": die}).GetHistogram()
		if assert.NotNil(t, h, "no duration series for %s", die) {
			assert.Equal(t, uint64(want), h.GetSampleCount(), "durations of %s", die)
			assert.Greater(t, h.GetSampleSum(), 0.0)
		}
	}
	assert.Nil(t, rec.Family(t, "async_roll_requests_total"), "async rolling comes in stage 4")
}

func TestTheDieTypeLabelIsAKnownDieOrUnknown(t *testing.T) {
	s := newStack(t, nil)
	for _, die := range []string{"fair", "risky", "nope", "FAIR", "fair ", "<script>alert(1)</script>", "d20", strings.Repeat("x", 200)} {
		get(t, s.frontend.URL+"/roll?die="+url.QueryEscape(die))
	}
	rec := s.frontend.rec
	for _, family := range []string{"frontend_button_clicks_total", "frontend_requests_total", "frontend_request_duration_seconds"} {
		assert.ElementsMatch(t, []string{"fair", "risky", "unknown"}, unique(rec.LabelValues(t, family, "die_type")),
			"die_type of %s", family)
	}
	assert.Equal(t, 6.0, rec.CounterValue(t, "frontend_button_clicks_total", map[string]string{"die_type": "unknown"}))
	assert.Equal(t, 6.0, rec.CounterValue(t, "frontend_requests_total", map[string]string{"die_type": "unknown", "status_code": "400"}))
	assert.Len(t, s.diceRoller.Calls(), 2, "only fair and risky reach the dice-roller")
}

func TestHTTPMetricsAreLabelledWithTheRoutePattern(t *testing.T) {
	s := newStack(t, nil)
	for _, target := range []string{"/roll?die=fair", "/roll?die=risky", "/roll?die=nope", "/no/such/page"} {
		get(t, s.frontend.URL+target)
	}
	rec := s.frontend.rec
	want := []struct {
		handler, status string
		n               float64
	}{{"/roll", "2xx", 2}, {"/roll", "4xx", 1}, {"unmatched", "4xx", 1}}
	// The middleware counts after the handler returns: poll rather than race.
	assert.Eventually(t, func() bool {
		for _, w := range want {
			if rec.CounterValue(t, "http_requests_total", map[string]string{"handler": w.handler, "method": "GET", "status": w.status}) != w.n {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond, "http_requests_total: %v", rec.LabelValues(t, "http_requests_total", "handler"))
	for _, handler := range rec.LabelValues(t, "http_requests_total", "handler") {
		assert.NotContains(t, handler, "?", "the handler label is the route, never the URL")
	}
}

func TestRollLogs(t *testing.T) {
	s := newStack(t, nil)
	get(t, s.frontend.URL+"/roll?die=fair")
	rec := s.frontend.rec
	server := waitSpan(t, rec, "GET /roll", trace.SpanKindServer)
	traceID, spanID := server.SpanContext().TraceID().String(), server.SpanContext().SpanID().String()

	requested := rec.LogsWithMessage(t, "roll requested")
	require.Len(t, requested, 1)
	assert.Equal(t, "INFO", requested[0]["level"])
	assert.Equal(t, "fair", requested[0]["die_type"])

	answered := rec.LogsWithMessage(t, "backend answered")
	require.Len(t, answered, 1)
	assert.Equal(t, "INFO", answered[0]["level"])
	assert.Equal(t, "fair", answered[0]["die_type"])
	assert.Equal(t, 200.0, answered[0]["backend_status"])

	for _, line := range append(requested, answered...) {
		assert.Equal(t, traceID, line["trace_id"], "the log line links to the request's trace: %v", line)
		assert.Equal(t, spanID, line["span_id"])
		assert.Equal(t, "frontend", line["service"])
		ts, ok := line["timestamp"].(string)
		if assert.True(t, ok, "no timestamp: %v", line) {
			_, err := time.Parse(time.RFC3339, ts)
			assert.NoError(t, err)
		}
	}
	assert.Empty(t, rec.LogsWithMessage(t, "backend failed"))
}

func TestBackendFailedIsLoggedAsAnErrorWithItsTrace(t *testing.T) {
	fe := newTestFrontend(t, config{
		diceRollerURL: closedURL(t),
		dieServiceURL: newFakeDieService(t, "fair", "risky").URL,
	})
	fe.loadCatalog(t)
	status, _, _ := get(t, fe.URL+"/roll?die=risky")
	require.Equal(t, http.StatusBadGateway, status)

	failed := fe.rec.LogsWithMessage(t, "backend failed")
	require.Len(t, failed, 1)
	line := failed[0]
	assert.Equal(t, "ERROR", line["level"])
	assert.Equal(t, "risky", line["die_type"])
	assert.Contains(t, line["error"], "connection refused")
	assert.Regexp(t, traceIDPattern, line["trace_id"])
	assert.Regexp(t, spanIDPattern, line["span_id"])

	server := waitSpan(t, fe.rec, "GET /roll", trace.SpanKindServer)
	assert.Equal(t, server.SpanContext().TraceID().String(), line["trace_id"], "the ERROR line leads to the failed trace")
	assert.Empty(t, fe.rec.LogsWithMessage(t, "backend answered"))
	assert.Equal(t, 1.0, fe.rec.CounterValue(t, "frontend_requests_total", map[string]string{"die_type": "risky", "status_code": "502"}))
}

func unique(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TestFrontendCountersAreBornAtZero: a counter's series is born at its first
// Inc unless it is created before. unknown's series exist at startup, and
// each die's as soon as the die-service listed it, so the first failure of a
// die is an increase that rate() can see.
func TestFrontendCountersAreBornAtZero(t *testing.T) {
	fe := newTestFrontend(t, config{diceRollerURL: closedURL(t), dieServiceURL: newFakeDieService(t, "fair", "risky").URL})
	zero := func(dice ...string) {
		t.Helper()
		for _, die := range dice {
			clicks := fe.rec.Metric(t, "frontend_button_clicks_total", map[string]string{"die_type": die})
			if assert.NotNil(t, clicks, "frontend_button_clicks_total{die_type=%q}", die) {
				assert.Zero(t, clicks.GetCounter().GetValue())
			}
			for _, code := range rollStatuses {
				m := fe.rec.Metric(t, "frontend_requests_total", map[string]string{"die_type": die, "status_code": code})
				if assert.NotNil(t, m, "frontend_requests_total{die_type=%q,status_code=%q}", die, code) {
					assert.Zero(t, m.GetCounter().GetValue())
				}
			}
		}
	}
	zero("unknown")
	assert.Equal(t, []string{"unknown"}, unique(fe.rec.LabelValues(t, "frontend_button_clicks_total", "die_type")),
		"no die is known before the die-service listed it")
	fe.loadCatalog(t)
	zero("fair", "risky", "unknown")
	assert.ElementsMatch(t, []string{"fair", "risky", "unknown"}, unique(fe.rec.LabelValues(t, "frontend_requests_total", "die_type")))
}
