package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/telemetry/telemetrytest"
)

// testDice adds to the real dice one that always fails.
var testDice = diceTable{
	"fair":   {Faces: []int{1, 2, 3, 4, 5, 6}},
	"risky":  {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	"doomed": {Faces: []int{1}, ErrorRate: 1}, // every roll fails
}

// withTestDice makes the server roll testDice instead of its own table.
func withTestDice(s *server) { s.dice = testDice }

// testConfig is the dice-roller's config for tests: no delay unless a test
// asks for one.
func testConfig() config {
	return config{shutdownTimeout: 10 * time.Second}
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
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
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

// roll decodes a /roll answer.
func (a answer) roll(t *testing.T) int {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, a.raw)
	var b map[string]int
	require.NoError(t, json.Unmarshal([]byte(a.raw), &b), a.raw)
	require.Contains(t, b, "roll")
	return b["roll"]
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

// rollsCounted is the sum of every dice_rolls_total series: 0 when no roll
// was counted, whether or not the series exist.
func rollsCounted(t *testing.T, rec *telemetrytest.Recorder) float64 {
	t.Helper()
	var sum float64
	for _, m := range rec.Family(t, "dice_rolls_total").GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum
}

func upperBounds(h *dto.Histogram) []float64 {
	var out []float64
	for _, b := range h.GetBucket() {
		out = append(out, b.GetUpperBound())
	}
	return out
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
