package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/stages/stage4/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage4/internal/telemetry/telemetrytest"
)

// fakeDieService answers GET /dice?identifier= like the real die-service,
// and remembers what it was asked.
type fakeDieService struct {
	*httptest.Server
	dice map[string]Die

	requests atomic.Int64
	mu       sync.Mutex
	headers  []http.Header
}

var testDice = map[string]Die{
	"fair":   {Faces: []int{1, 2, 3, 4, 5, 6}},
	"risky":  {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	"doomed": {Faces: []int{1}, ErrorRate: 1}, // every roll fails
}

func newFakeDieService(t *testing.T) *fakeDieService {
	t.Helper()
	f := &fakeDieService{dice: testDice}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeDieService) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if r.Method != http.MethodGet || r.URL.Path != "/dice" {
		service.WriteError(w, http.StatusNotFound, "fake die-service: no route "+r.URL.Path)
		return
	}
	id := r.URL.Query().Get("identifier")
	spec, ok := f.dice[id]
	if !ok {
		valid := make([]string, 0, len(f.dice))
		for k := range f.dice {
			valid = append(valid, k)
		}
		slices.Sort(valid)
		service.WriteJSON(w, http.StatusNotFound, map[string]any{
			"error": fmt.Sprintf("unknown die identifier %q; valid: %s", id, strings.Join(valid, ", ")),
			"valid": valid,
		})
		return
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"identifier": id, "specification": spec})
}

func (f *fakeDieService) requestHeaders() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.headers)
}

// testConfig is the dice-roller's config for tests: no delay unless a test
// asks for one, the real lookup timeout.
func testConfig(dieServiceURL string) config {
	return config{
		dieServiceURL:   dieServiceURL,
		lookupTimeout:   2 * time.Second,
		shutdownTimeout: 10 * time.Second,
	}
}

// rollerEnv is a dice-roller served by httptest with recorded telemetry.
type rollerEnv struct {
	rec *telemetrytest.Recorder
	srv *server
	ts  *httptest.Server
}

// newRollerEnv builds the server from cfg; adjust may change it (inject
// randomness) before it starts serving.
func newRollerEnv(t *testing.T, cfg config, adjust func(*server)) *rollerEnv {
	t.Helper()
	rec := telemetrytest.New(t, serviceName)
	srv := newServer(cfg, rec.Telemetry)
	if adjust != nil {
		adjust(srv)
	}
	ts := httptest.NewServer(srv.routes())
	t.Cleanup(ts.Close)
	return &rollerEnv{rec: rec, srv: srv, ts: ts}
}

type answer struct {
	status int
	header http.Header
	raw    string
}

func (a answer) errorMessage(t *testing.T) string {
	t.Helper()
	var body service.ErrorBody
	require.NoError(t, json.Unmarshal([]byte(a.raw), &body), "not a JSON error: %s", a.raw)
	require.NotEmpty(t, body.Error, "no error message in %s", a.raw)
	return body.Error
}

func (e *rollerEnv) do(t *testing.T, method, path string) answer {
	t.Helper()
	// A bound, so that a handler that never answers fails the test instead
	// of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.ts.URL+path, nil)
	require.NoError(t, err)
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
}

func (e *rollerEnv) get(t *testing.T, path string) answer {
	t.Helper()
	return e.do(t, http.MethodGet, path)
}

// batch decodes a /roll-async answer.
func (a answer) batch(t *testing.T) batchResult {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, a.raw)
	var b batchResult
	require.NoError(t, json.Unmarshal([]byte(a.raw), &b), a.raw)
	return b
}

// roll decodes a /roll answer.
func (a answer) roll(t *testing.T) int {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, a.raw)
	var b map[string]int
	require.NoError(t, json.Unmarshal([]byte(a.raw), &b), a.raw)
	require.Contains(t, b, "roll")
	return b["roll"]
}

// closedURL is the base URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	return u
}

// silentURL is the base URL of a server that accepts connections and never
// answers them.
func silentURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			// Silent for far longer than any lookup timeout, but not forever:
			// a dice-roller that forgot its timeout fails the test instead of
			// hanging it.
			time.AfterFunc(10*time.Second, func() { c.Close() })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// checkLogLines asserts the shape every log line must have and that each
// request line points at a recorded span.
func checkLogLines(t *testing.T, rec *telemetrytest.Recorder) []map[string]any {
	t.Helper()
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.SpanContext().SpanID().String()] = s
	}
	lines := rec.Logs(t)
	for _, l := range lines {
		raw, ok := l["timestamp"].(string)
		require.True(t, ok, "no timestamp: %v", l)
		ts, err := time.Parse(time.RFC3339, raw)
		require.NoError(t, err, "timestamp %q is not RFC 3339", raw)
		assert.Equal(t, time.UTC, ts.Location(), "timestamp %q is not UTC", raw)
		assert.Contains(t, []string{"INFO", "WARNING", "ERROR"}, l["level"], "%v", l)
		assert.NotEmpty(t, l["message"], "%v", l)
		assert.Equal(t, serviceName, l["service"])

		assert.Regexp(t, traceIDPattern, l["trace_id"], "request log without a trace id: %v", l)
		assert.Regexp(t, spanIDPattern, l["span_id"], "request log without a span id: %v", l)
		spanID, _ := l["span_id"].(string)
		span, ok := spans[spanID]
		if assert.True(t, ok, "log line's span_id is no recorded span: %v", l) {
			assert.Equal(t, span.SpanContext().TraceID().String(), l["trace_id"], "%v", l)
		}
	}
	return lines
}

// histogram returns the histogram of a series, failing when it is missing.
func histogram(t *testing.T, rec *telemetrytest.Recorder, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	m := rec.Metric(t, name, labels)
	require.NotNil(t, m, "no series %s%v", name, labels)
	require.NotNil(t, m.GetHistogram(), "%s is not a histogram", name)
	return m.GetHistogram()
}

func upperBounds(h *dto.Histogram) []float64 {
	var out []float64
	for _, b := range h.GetBucket() {
		out = append(out, b.GetUpperBound())
	}
	return out
}

func gaugeValue(t *testing.T, rec *telemetrytest.Recorder, name string) float64 {
	t.Helper()
	m := rec.Metric(t, name, nil)
	require.NotNil(t, m, "no gauge %s", name)
	return m.GetGauge().GetValue()
}

func uniqueValues(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// fixedRandom makes every delay factor × maxDelay and no roll fail unless
// its die's error rate exceeds factor.
func fixedRandom(factor float64) func(*server) {
	return func(s *server) { s.roller.randFloat = func() float64 { return factor } }
}

// assertExemplarsAreRecordedTraces checks that a histogram's exemplars link
// to traces this service recorded: the metric → trace jump works.
func assertExemplarsAreRecordedTraces(t *testing.T, env *rollerEnv, h *dto.Histogram) {
	t.Helper()
	traces := map[string]bool{}
	for _, s := range env.rec.Ended() {
		traces[s.SpanContext().TraceID().String()] = true
	}
	n := 0
	for _, b := range h.GetBucket() {
		ex := b.GetExemplar()
		if ex == nil {
			continue
		}
		n++
		require.Len(t, ex.GetLabel(), 1)
		assert.Equal(t, "trace_id", ex.GetLabel()[0].GetName())
		assert.True(t, traces[ex.GetLabel()[0].GetValue()], "exemplar %v is no recorded trace", ex)
	}
	assert.Positive(t, n, "no exemplar on the histogram")
}

// attrOf returns a span attribute and whether it is set.
func attrOf(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// assertAttrs checks attributes by value and type (an int64 is not a string).
func assertAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]attribute.Value) {
	t.Helper()
	for k, v := range want {
		got, ok := attrOf(s, k)
		if !assert.True(t, ok, "span %s has no attribute %s", s.Name(), k) {
			continue
		}
		assert.Equal(t, v.Type().String(), got.Type().String(), "span %s: type of %s", s.Name(), k)
		assert.Equal(t, v.String(), got.String(), "span %s: value of %s", s.Name(), k)
	}
}

// spanContextFromHeader reads the W3C traceparent a request carried.
func spanContextFromHeader(t *testing.T, h http.Header) trace.SpanContext {
	t.Helper()
	require.NotEmpty(t, h.Get("traceparent"), "no traceparent header")
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid(), "invalid traceparent %q", h.Get("traceparent"))
	return sc
}

// counterSum adds up every series of a counter family (0 when it has none).
func counterSum(t *testing.T, env *rollerEnv, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range env.rec.Family(t, name).GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum
}
