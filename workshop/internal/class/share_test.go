package class

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/hostile"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// sendSpans exports one trace (a server span and a child) with the real
// OTel SDK to endpoint, as a learner's service does.
func sendSpans(t *testing.T, endpoint string, headers map[string]string, attrs ...attribute.KeyValue) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+otlp.TracesPath), otlptracehttp.WithHeaders(headers))
	require.NoError(t, err)
	res := resource.NewSchemaless(append(attrs, attribute.String("service.name", "dice-roller"))...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	ctx, span := tp.Tracer("test").Start(ctx, "GET /roll-async")
	_, child := tp.Tracer("test").Start(ctx, "async_roll_1")
	child.End()
	span.End()
	require.NoError(t, tp.Shutdown(context.Background()))
}

// TestShareCopiesTheLocalTelemetryToTheClass is `up --share`: the
// services send to the local receiver, whose hook tags the telemetry with
// the learner and copies it to the class, where the instructor opens it.
func TestShareCopiesTheLocalTelemetryToTheClass(t *testing.T) {
	tc := startClass(t, Options{})
	_, m := joinFrom(t, tc, "Sam")
	var lines []string
	var mu sync.Mutex
	sharer := NewSharer(ShareOptions{Endpoint: m.URL, Token: m.Token, Learner: m.Name,
		Say: func(f string, a ...any) { mu.Lock(); lines = append(lines, fmt.Sprintf(f, a...)); mu.Unlock() }})
	local := otlp.NewStore(otlp.DefaultLimits)
	receiver := otlp.NewReceiver(local)
	receiver.OnExport = sharer.Export
	up := httptest.NewServer(receiver)
	defer up.Close()

	// The service claims to be someone else: the attribute is replaced.
	sendSpans(t, up.URL, nil, attribute.String(LearnerAttribute, "Bob"))
	sent, dropped := sharer.Close(context.Background())
	assert.Equal(t, int64(2), sent, "the SDK's syncer exports each span on its own")
	assert.Zero(t, dropped)
	assert.Empty(t, lines, "nothing to say when it works")

	localTraces := local.Traces(0)
	require.Len(t, localTraces, 1, "the local viewer keeps everything")
	for _, s := range localTraces[0].Spans {
		assert.Equal(t, "Sam", s.Resource[LearnerAttribute])
	}
	tc.mu.RLock()
	classStore := tc.learners["sam"].telemetry
	tc.mu.RUnlock()
	classTraces := classStore.Traces(0)
	require.Len(t, classTraces, 1)
	assert.Equal(t, localTraces[0].ID, classTraces[0].ID)
	assert.Len(t, classTraces[0].Spans, 2)
	assert.Equal(t, "Sam", classTraces[0].Spans[0].Resource[LearnerAttribute])

	// The instructor opens Sam's waterfall with the viewer, from the board.
	assert.Contains(t, tc.get(t, "/").body, `<a href="/learners/sam/telemetry/">1 trace</a>`)
	list := tc.get(t, "/learners/sam/telemetry/").body
	assert.Contains(t, list, `href="/learners/sam/telemetry/trace/`+classTraces[0].ID+`"`)
	assert.Contains(t, list, `href="/learners/sam/telemetry/static/style.css"`)
	assert.Contains(t, list, `← the class board`)
	wf := tc.get(t, "/learners/sam/telemetry/trace/"+classTraces[0].ID)
	assert.Equal(t, http.StatusOK, wf.status)
	assert.Contains(t, wf.body, "async_roll_1")
	assert.Equal(t, http.StatusOK, tc.get(t, "/learners/sam/telemetry/static/style.css").status)
}

func TestClassTelemetryNeedsATokenAndIsBounded(t *testing.T) {
	body, err := proto.Marshal(simulatedTrace(3))
	require.NoError(t, err)
	// One body of this size at once, then 1 byte a second.
	tc := startClass(t, Options{Limits: Limits{OTLPBytesPerSecond: 1, MaxOTLPBody: int64(len(body))}})
	sam := tc.join(t, "Sam")

	a := tc.do(t, http.MethodPost, otlp.TracesPath, "", body, "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Contains(t, a.body, "needs the learner's token")
	a = tc.do(t, http.MethodPost, otlp.TracesPath, sam.Token, body, "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusOK, a.status, a.body)
	a = tc.do(t, http.MethodPost, otlp.TracesPath, sam.Token, body, "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusTooManyRequests, a.status, "1 byte a second, after the first burst")
	assert.NotEmpty(t, a.header.Get("Retry-After"))
	a = tc.do(t, http.MethodPost, otlp.TracesPath, sam.Token, bytes.Repeat([]byte{1}, len(body)+1), "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	a = tc.do(t, http.MethodPost, otlp.LogsPath, sam.Token, []byte("{"), "Content-Type", "application/json")
	assert.Equal(t, http.StatusTooManyRequests, a.status)
}

// TestAClassThatDoesNotAnswerNeverHoldsTheServices: the sharer says so
// once, drops what it cannot send, and the local store has it all.
func TestAClassThatDoesNotAnswerNeverHoldsTheServices(t *testing.T) {
	var lines []string
	var mu sync.Mutex
	sharer := NewSharer(ShareOptions{Endpoint: deadURL(t), Token: "t", Learner: "Sam", Queue: 2,
		Say: func(f string, a ...any) { mu.Lock(); lines = append(lines, fmt.Sprintf(f, a...)); mu.Unlock() }})
	local := otlp.NewStore(otlp.DefaultLimits)
	receiver := otlp.NewReceiver(local)
	receiver.OnExport = sharer.Export
	up := httptest.NewServer(receiver)
	defer up.Close()
	for range 5 {
		sendSpans(t, up.URL, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent, dropped := sharer.Close(ctx)
	assert.Zero(t, sent)
	assert.Equal(t, int64(10), dropped, "two spans a trace, exported one by one; failed or beyond the queue, all counted")
	assert.Len(t, local.Traces(0), 5)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 1, "one line, not one per batch: %q", lines)
	assert.True(t, strings.HasPrefix(lines[0], "sharing with the class: http://127.0.0.1:"), lines[0])
	assert.Contains(t, lines[0], "your own viewer has everything")
}

func TestSetLearnerReplacesTheAttribute(t *testing.T) {
	req := simulatedTrace(2)
	req.ResourceSpans = append(req.ResourceSpans, simulatedTrace(1).ResourceSpans[0])
	req.ResourceSpans[1].Resource = nil
	SetLearner(req, "Bob")
	SetLearner(req, "Sam")
	for _, rs := range req.ResourceSpans {
		n := 0
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == LearnerAttribute {
				n++
				assert.Equal(t, "Sam", kv.Value.GetStringValue())
			}
		}
		assert.Equal(t, 1, n)
	}
}

// TestClassTelemetryStaysWithinItsBytes: a learner (or whoever has their
// token) sending big attributes and log lines keeps the class server's
// store of them within its byte budget (issue 14).
func TestClassTelemetryStaysWithinItsBytes(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{OTLPBytesPerSecond: 64 << 20, MaxOTLPBody: 16 << 20, Telemetry: DefaultLimits.Telemetry}})
	sam := tc.join(t, "Sam")
	for range 8 {
		body, err := proto.Marshal(hostile.BigAttribute(3 << 20))
		require.NoError(t, err)
		a := tc.do(t, http.MethodPost, otlp.TracesPath, sam.Token, body, "Content-Type", "application/x-protobuf")
		require.Equal(t, http.StatusOK, a.status, a.body)
		body, err = proto.Marshal(hostile.BigLogLines(4, 1<<20))
		require.NoError(t, err)
		a = tc.do(t, http.MethodPost, otlp.LogsPath, sam.Token, body, "Content-Type", "application/x-protobuf")
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	tc.mu.Lock()
	store := tc.learners[sam.Learner].telemetry
	tc.mu.Unlock()
	st := store.Stats()
	assert.LessOrEqual(t, st.Bytes, DefaultLimits.Telemetry.MaxBytes)
	assert.Equal(t, 8+8*4, st.TruncatedValues)
}
