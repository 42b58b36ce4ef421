package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry"
	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry/telemetrytest"
)

// testRouter is a service the way the stage wires one: tracing and metrics
// inside the chi router.
func testRouter(rec *telemetrytest.Recorder) http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.TraceRequests(rec.Telemetry, "test-service"), rec.HTTP.Middleware)
	r.NotFound(service.NotFound("/ok"))
	r.MethodNotAllowed(service.MethodNotAllowed)
	r.Get("/ok", func(w http.ResponseWriter, _ *http.Request) { service.WriteJSON(w, http.StatusOK, "ok") })
	r.Get("/silent", func(http.ResponseWriter, *http.Request) {}) // writes nothing
	r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { service.WriteJSON(w, http.StatusOK, "item") })
	r.Get("/bad", func(w http.ResponseWriter, _ *http.Request) { service.WriteError(w, http.StatusBadRequest, "bad") })
	r.Get("/fail", func(w http.ResponseWriter, _ *http.Request) {
		service.WriteError(w, http.StatusInternalServerError, "fail")
	})
	r.Get("/healthz", service.Healthz)
	r.Method(http.MethodGet, "/metrics", rec.MetricsHandler())
	rec.HTTP.InitRoutes(r)
	return r
}

func do(t *testing.T, client *http.Client, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func TestHTTPMetricsLabels(t *testing.T) {
	rec := telemetrytest.New(t, "test-service")
	ts := httptest.NewServer(testRouter(rec))
	defer ts.Close()

	requests := []struct {
		method, path string
		wantStatus   int
	}{
		{http.MethodGet, "/ok", 200},
		{http.MethodGet, "/ok?die=fair", 200},
		{http.MethodGet, "/ok?die=whatever&x=1", 200},
		{http.MethodGet, "/silent", 200},
		{http.MethodGet, "/items/1", 200},
		{http.MethodGet, "/items/2", 200},
		{http.MethodGet, "/bad", 400},
		{http.MethodGet, "/fail", 500},
		{http.MethodGet, "/no/such/path", 404},
		{http.MethodGet, "/another-unknown", 404},
		{http.MethodPost, "/ok", 405},
		{"BREW", "/ok", 405},
		{"PROPFIND", "/nope", 405},
	}
	for _, r := range requests {
		assert.Equal(t, r.wantStatus, do(t, ts.Client(), r.method, ts.URL+r.path), "%s %s", r.method, r.path)
	}

	counts := []struct {
		handler, method, status string
		want                    float64
	}{
		{"/ok", "GET", "2xx", 3}, // the query string never reaches a label
		{"/silent", "GET", "2xx", 1},
		{"/items/{id}", "GET", "2xx", 2}, // the route pattern, not the URL
		{"/bad", "GET", "4xx", 1},
		{"/fail", "GET", "5xx", 1},
		{"unmatched", "GET", "4xx", 2},
	}
	for _, c := range counts {
		got := rec.CounterValue(t, "http_requests_total", map[string]string{"handler": c.handler, "method": c.method, "status": c.status})
		assert.Equal(t, c.want, got, "http_requests_total{handler=%q,method=%q,status=%q}", c.handler, c.method, c.status)
	}

	// Odd methods collapse into OTHER; every label stays in a closed set.
	var other float64
	for _, m := range rec.Family(t, "http_requests_total").GetMetric() {
		if labelValue(m, "method") == "OTHER" {
			other += m.GetCounter().GetValue()
		}
	}
	assert.Equal(t, float64(2), other, "BREW and PROPFIND are counted as OTHER")
	assert.ElementsMatch(t, []string{"GET", "POST", "OTHER"}, unique(rec.LabelValues(t, "http_requests_total", "method")))
	for _, h := range unique(rec.LabelValues(t, "http_requests_total", "handler")) {
		assert.Contains(t, []string{"/ok", "/silent", "/items/{id}", "/bad", "/fail", "/healthz", "/metrics", "unmatched"}, h,
			"handler label %q is neither a route nor unmatched", h)
	}
	for _, s := range unique(rec.LabelValues(t, "http_requests_total", "status")) {
		assert.Contains(t, []string{"2xx", "4xx", "5xx"}, s)
	}

	// The duration histogram is labelled the same way, without status.
	d := rec.Metric(t, "http_request_duration_seconds", map[string]string{"handler": "/ok", "method": "GET"})
	require.NotNil(t, d)
	assert.Equal(t, uint64(3), d.GetHistogram().GetSampleCount())
}

// TestEveryRouteIsCountedFromZero: before any request, each route has its
// http_requests_total series at 0 for every status class, so that the first
// error of a route is an increase that rate() can see. Unmatched requests
// and odd methods create no series until they happen.
func TestEveryRouteIsCountedFromZero(t *testing.T) {
	rec := telemetrytest.New(t, "test-service")
	testRouter(rec)

	routes := []string{"/ok", "/silent", "/items/{id}", "/bad", "/fail", "/healthz", "/metrics"}
	f := rec.Family(t, "http_requests_total")
	require.NotNil(t, f, "http_requests_total has no series before the first request")
	assert.Len(t, f.GetMetric(), len(routes)*3, "one series per route and status class")
	for _, route := range routes {
		for _, class := range []string{"2xx", "4xx", "5xx"} {
			m := rec.Metric(t, "http_requests_total", map[string]string{"handler": route, "method": "GET", "status": class})
			if assert.NotNil(t, m, "http_requests_total{handler=%q,method=\"GET\",status=%q}", route, class) {
				assert.Zero(t, m.GetCounter().GetValue())
			}
		}
	}
	assert.NotContains(t, rec.LabelValues(t, "http_requests_total", "handler"), telemetry.UnmatchedRoute)
}

func TestTraceRequestsNamesSpansAfterTheRoute(t *testing.T) {
	rec := telemetrytest.New(t, "test-service")
	ts := httptest.NewServer(testRouter(rec))
	defer ts.Close()

	do(t, ts.Client(), http.MethodGet, ts.URL+"/items/42?x=1")
	do(t, ts.Client(), http.MethodGet, ts.URL+"/fail")
	do(t, ts.Client(), http.MethodGet, ts.URL+"/healthz")
	do(t, ts.Client(), http.MethodGet, ts.URL+"/metrics")

	span := rec.Span(t, "GET /items/{id}")
	assert.Equal(t, trace.SpanKindServer, span.SpanKind())
	route, ok := telemetrytest.Attr(span, "http.route")
	require.True(t, ok, "http.route is set")
	assert.Equal(t, "/items/{id}", route.AsString())
	method, _ := telemetrytest.Attr(span, "http.request.method")
	assert.Equal(t, "GET", method.AsString())
	status, _ := telemetrytest.Attr(span, "http.response.status_code")
	assert.Equal(t, int64(200), status.AsInt64())
	assert.False(t, span.Parent().IsValid(), "no traceparent: a new trace")

	fail := rec.Span(t, "GET /fail")
	assert.Equal(t, codes.Error, fail.Status().Code, "a 5xx marks the server span as an error")

	// Scrapes and probes are not traced.
	assert.ElementsMatch(t, []string{"GET /items/{id}", "GET /fail"}, telemetrytest.Names(rec.Ended()))
}

func TestTraceRequestsContinuesTheCallersTrace(t *testing.T) {
	server := telemetrytest.New(t, "server")
	ts := httptest.NewServer(testRouter(server))
	defer ts.Close()

	client := telemetrytest.New(t, "client")
	ctx, parent := client.Tracer("test").Start(context.Background(), "caller")
	httpClient := client.NewHTTPClient(0)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/ok?die=fair", nil)
	require.NoError(t, err)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	parent.End()

	clientSpan := client.Span(t, "GET /ok") // the path, without the query
	assert.Equal(t, trace.SpanKindClient, clientSpan.SpanKind())
	assert.Equal(t, parent.SpanContext().SpanID(), clientSpan.Parent().SpanID())

	serverSpan := server.Span(t, "GET /ok")
	assert.Equal(t, parent.SpanContext().TraceID(), serverSpan.SpanContext().TraceID(), "one trace across both sides")
	assert.Equal(t, clientSpan.SpanContext().SpanID(), serverSpan.Parent().SpanID(), "the server span's parent is the client span")
	assert.True(t, serverSpan.Parent().IsRemote())
}

func TestObserveAttachesExemplarOfSampledSpan(t *testing.T) {
	tp := sdktrace.NewTracerProvider() // samples everything
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	sampledCtx, span := tp.Tracer("test").Start(context.Background(), "work")
	defer span.End()
	unsampledCtx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, // valid, but not sampled
	}))

	tests := []struct {
		name        string
		ctx         context.Context
		wantTraceID string
	}{
		{"sampled span", sampledCtx, span.SpanContext().TraceID().String()},
		{"unsampled span", unsampledCtx, ""},
		{"no span", context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "work_seconds", Buckets: []float64{1, 2}})
			reg.MustRegister(h)

			telemetry.Observe(tt.ctx, h, 1.5)

			families, err := reg.Gather()
			require.NoError(t, err)
			require.Len(t, families, 1)
			hist := families[0].GetMetric()[0].GetHistogram()
			assert.Equal(t, uint64(1), hist.GetSampleCount(), "the value is recorded either way")
			assert.Equal(t, 1.5, hist.GetSampleSum())
			var exemplars []*dto.Exemplar
			for _, b := range hist.GetBucket() {
				if b.GetExemplar() != nil {
					exemplars = append(exemplars, b.GetExemplar())
				}
			}
			if tt.wantTraceID == "" {
				assert.Empty(t, exemplars)
				return
			}
			require.Len(t, exemplars, 1)
			assert.Equal(t, 1.5, exemplars[0].GetValue())
			require.Len(t, exemplars[0].GetLabel(), 1)
			assert.Equal(t, "trace_id", exemplars[0].GetLabel()[0].GetName())
			assert.Equal(t, tt.wantTraceID, exemplars[0].GetLabel()[0].GetValue())
		})
	}

	t.Run("an observer without exemplars still observes", func(t *testing.T) {
		var got []float64
		telemetry.Observe(sampledCtx, prometheus.ObserverFunc(func(v float64) { got = append(got, v) }), 2.5)
		assert.Equal(t, []float64{2.5}, got)
	})
}

func TestMetricsEndpointServesExemplarsToOpenMetricsScrapers(t *testing.T) {
	rec := telemetrytest.New(t, "test-service")
	ts := httptest.NewServer(testRouter(rec))
	defer ts.Close()
	do(t, ts.Client(), http.MethodGet, ts.URL+"/ok")
	traceID := rec.Span(t, "GET /ok").SpanContext().TraceID().String()

	// The middleware's own duration histogram carries the request's trace id.
	m := rec.Metric(t, "http_request_duration_seconds", map[string]string{"handler": "/ok", "method": "GET"})
	require.NotNil(t, m)
	var ids []string
	for _, b := range m.GetHistogram().GetBucket() {
		for _, l := range b.GetExemplar().GetLabel() {
			ids = append(ids, l.GetValue())
		}
	}
	assert.Equal(t, []string{traceID}, ids)

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, resp.Header.Get("Content-Type"), "application/openmetrics-text")
	assert.Contains(t, string(body), `# {trace_id="`+traceID+`"}`)
	assert.Contains(t, string(body), "go_goroutines", "the Go runtime collector is registered")
	assert.Contains(t, string(body), "process_", "the process collector is registered")
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func unique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
