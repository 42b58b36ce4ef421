// Package telemetrytest gives tests a real telemetry pipeline they can read
// back: the OTel SDK with an in-memory span recorder, a fresh Prometheus
// registry, and the JSON logger writing to a buffer.
package telemetrytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-o11y-workshop/kit/exercises/stage1/internal/telemetry"
)

// Recorder is a service's Telemetry whose output tests can inspect.
type Recorder struct {
	*telemetry.Telemetry
	Spans *tracetest.SpanRecorder
	logs  *syncBuffer
}

// New returns a Recorder for service. Spans are recorded when they end.
func New(t testing.TB, service string) *Recorder {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	logs := &syncBuffer{}
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return &Recorder{
		Telemetry: telemetry.New(telemetry.NewLogger(logs, service), tp, prop),
		Spans:     spans,
		logs:      logs,
	}
}

// Ended returns the spans that have ended so far.
func (r *Recorder) Ended() []sdktrace.ReadOnlySpan { return r.Spans.Ended() }

// SpansNamed returns the ended spans called name.
func (r *Recorder) SpansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// Span returns the only ended span called name, failing the test otherwise.
func (r *Recorder) Span(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := r.SpansNamed(name)
	require.Lenf(t, spans, 1, "want one span %q; ended spans: %v", name, Names(r.Ended()))
	return spans[0]
}

// Names lists the names of spans, for failure messages.
func Names(spans []sdktrace.ReadOnlySpan) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	return names
}

// Attr returns the value of a span attribute, and whether it is set.
func Attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// Logs returns every log line written so far, each decoded from JSON. A line
// that is not a JSON object fails the test.
func (r *Recorder) Logs(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoErrorf(t, json.Unmarshal(sc.Bytes(), &line), "log line is not JSON: %s", sc.Text())
		out = append(out, line)
	}
	return out
}

// LogsWithMessage returns the log lines whose message is msg.
func (r *Recorder) LogsWithMessage(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range r.Logs(t) {
		if l["message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// Family returns the gathered metric family called name, or nil.
func (r *Recorder) Family(t testing.TB, name string) *dto.MetricFamily {
	t.Helper()
	families, err := r.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// Metric returns the series of family name whose labels are exactly labels,
// or nil when there is none.
func (r *Recorder) Metric(t testing.TB, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := r.Family(t, name)
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		if labelsEqual(m.GetLabel(), labels) {
			return m
		}
	}
	return nil
}

// CounterValue is the value of a counter series, 0 when it does not exist.
func (r *Recorder) CounterValue(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	return r.Metric(t, name, labels).GetCounter().GetValue()
}

// LabelValues lists every value that label takes in family name.
func (r *Recorder) LabelValues(t testing.TB, name, label string) []string {
	t.Helper()
	var out []string
	f := r.Family(t, name)
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
