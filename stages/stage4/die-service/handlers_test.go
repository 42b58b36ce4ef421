package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/go-o11y-workshop/kit/stages/stage4/internal/telemetry/telemetrytest"
)

var testCatalog = Catalog{
	"risky":  {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	"fair":   {Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0},
	"cursed": {Faces: []int{1}, ErrorRate: 1},
}

// newTestService serves catalog the way main does, with recorded telemetry.
func newTestService(t *testing.T, catalog Catalog) (*telemetrytest.Recorder, *httptest.Server) {
	t.Helper()
	rec := telemetrytest.New(t, serviceName)
	ts := httptest.NewServer(newServer(catalog, rec.Telemetry).routes())
	t.Cleanup(ts.Close)
	return rec, ts
}

// get sends one request and decodes the JSON answer.
func get(t *testing.T, ts *httptest.Server, method, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	require.NoError(t, err)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s %s", method, path)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body), "%s %s answered %s", method, path, raw)
	return resp.StatusCode, body
}

func TestDiceAnswers(t *testing.T) {
	_, ts := newTestService(t, testCatalog)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{
			name: "list is sorted", method: http.MethodGet, path: "/dice",
			wantStatus: 200, wantBody: `{"identifiers":["cursed","fair","risky"]}`,
		},
		{
			name: "fair", method: http.MethodGet, path: "/dice?identifier=fair",
			wantStatus: 200, wantBody: `{"identifier":"fair","specification":{"faces":[1,2,3,4,5,6],"error_rate":0}}`,
		},
		{
			name: "risky", method: http.MethodGet, path: "/dice?identifier=risky",
			wantStatus: 200, wantBody: `{"identifier":"risky","specification":{"faces":[2,3,4,5,6,7],"error_rate":0.1}}`,
		},
		{
			name: "unknown names the valid identifiers", method: http.MethodGet, path: "/dice?identifier=loaded",
			wantStatus: 404,
			wantBody:   `{"error":"unknown die identifier \"loaded\"; valid: cursed, fair, risky","valid":["cursed","fair","risky"]}`,
		},
		{
			name: "empty identifier is unknown, not the list", method: http.MethodGet, path: "/dice?identifier=",
			wantStatus: 404,
			wantBody:   `{"error":"unknown die identifier \"\"; valid: cursed, fair, risky","valid":["cursed","fair","risky"]}`,
		},
		{
			name: "case matters", method: http.MethodGet, path: "/dice?identifier=FAIR",
			wantStatus: 404,
			wantBody:   `{"error":"unknown die identifier \"FAIR\"; valid: cursed, fair, risky","valid":["cursed","fair","risky"]}`,
		},
		{
			name: "wrong method", method: http.MethodPost, path: "/dice",
			wantStatus: 405, wantBody: `{"error":"method POST not allowed; valid: GET"}`,
		},
		{
			name: "unknown path", method: http.MethodGet, path: "/dices",
			wantStatus: 404, wantBody: `{"error":"no route /dices; valid: /, /dice, /healthz, /metrics"}`,
		},
		{
			name: "health", method: http.MethodGet, path: "/healthz",
			wantStatus: 200, wantBody: `{"status":"ok"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, ts, tt.method, tt.path)
			assert.Equal(t, tt.wantStatus, status)
			got, err := json.Marshal(body)
			require.NoError(t, err)
			assert.JSONEq(t, tt.wantBody, string(got))
		})
	}
}

func TestIndexDescribesTheService(t *testing.T) {
	_, ts := newTestService(t, testCatalog)
	status, body := get(t, ts, http.MethodGet, "/")
	assert.Equal(t, 200, status)
	assert.Equal(t, "die-service", body["service"])
	assert.Equal(t, float64(4), body["stage"])
	assert.Contains(t, body["endpoints"], "GET /dice?identifier={id}")
}

func TestDiceMetrics(t *testing.T) {
	rec, ts := newTestService(t, testCatalog)
	loaded := rec.Metric(t, "die_specifications_loaded", nil)
	require.NotNil(t, loaded, "die_specifications_loaded is registered")
	assert.Equal(t, float64(3), loaded.GetGauge().GetValue(), "die_specifications_loaded is the number of dice in the catalog")

	// Before any request: one series per die of the catalog and one for
	// unknown, each at 0, so the first request of each is an increase.
	for _, id := range []string{"cursed", "fair", "risky", "unknown"} {
		m := rec.Metric(t, "die_specifications_requested_total", map[string]string{"identifier": id})
		if assert.NotNil(t, m, "die_specifications_requested_total{identifier=%q} exists at startup, at 0", id) {
			assert.Zero(t, m.GetCounter().GetValue())
		}
	}
	list := rec.Metric(t, "die_list_requests_total", nil)
	if assert.NotNil(t, list, "die_list_requests_total is registered") {
		assert.Zero(t, list.GetCounter().GetValue(), "a counter without labels is exported at 0 as soon as it is registered")
	}

	for range 2 {
		get(t, ts, http.MethodGet, "/dice")
	}
	for range 3 {
		get(t, ts, http.MethodGet, "/dice?identifier=fair")
	}
	get(t, ts, http.MethodGet, "/dice?identifier=risky")
	// Every unknown identifier lands in one series: none becomes a label value.
	for _, id := range []string{"loaded", "../etc/passwd", "", "x" + string(make([]byte, 50)), "FAIR"} {
		get(t, ts, http.MethodGet, "/dice?identifier="+url.QueryEscape(id))
	}
	get(t, ts, "BREW", "/dice")

	counter := func(name string, labels map[string]string) float64 { return rec.CounterValue(t, name, labels) }
	assert.Equal(t, float64(2), counter("die_list_requests_total", nil))
	assert.Equal(t, float64(3), counter("die_specifications_requested_total", map[string]string{"identifier": "fair"}))
	assert.Equal(t, float64(1), counter("die_specifications_requested_total", map[string]string{"identifier": "risky"}))
	assert.Equal(t, float64(5), counter("die_specifications_requested_total", map[string]string{"identifier": "unknown"}))
	assert.Zero(t, counter("die_specifications_requested_total", map[string]string{"identifier": "cursed"}))
	assert.ElementsMatch(t, []string{"cursed", "fair", "risky", "unknown"},
		rec.LabelValues(t, "die_specifications_requested_total", "identifier"),
		"the dice of the catalog and unknown: no identifier sent by a client becomes a label value")

	assert.Equal(t, float64(6), counter("http_requests_total", map[string]string{"handler": "/dice", "method": "GET", "status": "2xx"}))
	assert.Equal(t, float64(5), counter("http_requests_total", map[string]string{"handler": "/dice", "method": "GET", "status": "4xx"}))
	methods := rec.LabelValues(t, "http_requests_total", "method")
	assert.NotContains(t, methods, "BREW", "an odd method never becomes a label value")
	assert.Contains(t, methods, "OTHER")
}

func TestDiceSpans(t *testing.T) {
	rec, ts := newTestService(t, testCatalog)
	get(t, ts, http.MethodGet, "/dice?identifier=fair")
	get(t, ts, http.MethodGet, "/dice?identifier=nope")
	get(t, ts, http.MethodGet, "/dice")

	spans := rec.SpansNamed("GET /dice")
	require.Len(t, spans, 3, "one server span per request, named after the route: %v", telemetrytest.Names(rec.Ended()))
	tests := []struct {
		span       sdktrace.ReadOnlySpan
		identifier string
		found      bool
		hasAttrs   bool
	}{
		{spans[0], "fair", true, true},
		{spans[1], "nope", false, true},
		{spans[2], "", false, false}, // the list is not about one die
	}
	for i, tt := range tests {
		route, _ := telemetrytest.Attr(tt.span, "http.route")
		assert.Equal(t, "/dice", route.AsString(), "span %d", i)
		id, ok := telemetrytest.Attr(tt.span, "die.identifier")
		assert.Equal(t, tt.hasAttrs, ok, "span %d die.identifier", i)
		found, ok2 := telemetrytest.Attr(tt.span, "die.found")
		assert.Equal(t, tt.hasAttrs, ok2, "span %d die.found", i)
		if tt.hasAttrs {
			assert.Equal(t, attribute.STRING, id.Type())
			assert.Equal(t, tt.identifier, id.AsString())
			assert.Equal(t, attribute.BOOL, found.Type(), "die.found is a bool")
			assert.Equal(t, tt.found, found.AsBool())
		}
	}
}

func TestDiceLogs(t *testing.T) {
	rec, ts := newTestService(t, testCatalog)
	get(t, ts, http.MethodGet, "/dice")
	get(t, ts, http.MethodGet, "/dice?identifier=fair")
	get(t, ts, http.MethodGet, "/dice?identifier=nope")

	spanIDs := map[string]string{} // span id → trace id
	for _, s := range rec.Ended() {
		spanIDs[s.SpanContext().SpanID().String()] = s.SpanContext().TraceID().String()
	}
	hex32, hex16 := regexp.MustCompile(`^[0-9a-f]{32}$`), regexp.MustCompile(`^[0-9a-f]{16}$`)
	lines := rec.Logs(t)
	require.NotEmpty(t, lines)
	for _, l := range lines {
		ts, err := time.Parse(time.RFC3339, l["timestamp"].(string))
		assert.NoError(t, err)
		assert.Equal(t, time.UTC, ts.Location())
		assert.Contains(t, []string{"INFO", "WARNING", "ERROR"}, l["level"])
		assert.NotEmpty(t, l["message"])
		assert.Equal(t, "die-service", l["service"])
		assert.Regexp(t, hex32, l["trace_id"], "request log without trace id: %v", l)
		assert.Regexp(t, hex16, l["span_id"])
		spanID, _ := l["span_id"].(string)
		assert.Equal(t, spanIDs[spanID], l["trace_id"], "log line points at a recorded span: %v", l)
	}

	events := []struct {
		message string
		level   string
		fields  map[string]any
	}{
		{"die list requested", "INFO", map[string]any{"count": float64(3)}},
		{"die specification requested", "INFO", map[string]any{"identifier": "fair"}},
		{"unknown die identifier", "WARNING", map[string]any{"identifier": "nope"}},
	}
	for _, e := range events {
		got := rec.LogsWithMessage(t, e.message)
		require.Len(t, got, 1, "event %q", e.message)
		assert.Equal(t, e.level, got[0]["level"], e.message)
		for k, v := range e.fields {
			assert.Equal(t, v, got[0][k], "%s: field %s", e.message, k)
		}
	}
}

func TestCatalogIdentifiersSorted(t *testing.T) {
	ids := testCatalog.Identifiers()
	assert.True(t, slices.IsSorted(ids))
	assert.Equal(t, []string{"cursed", "fair", "risky"}, ids)
}
