package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// newProvider returns a tracer provider of one service exporting to url
// with the real OTLP/HTTP exporter. The syncer exports each span as it
// ends, so the spans are in the store when End returns.
func newProvider(t *testing.T, url, service string, opts ...otlptracehttp.Option) *sdktrace.TracerProvider {
	t.Helper()
	opts = append([]otlptracehttp.Option{
		// A signal URL is used as is: the exporter appends /v1/traces only
		// to OTEL_EXPORTER_OTLP_ENDPOINT.
		otlptracehttp.WithEndpointURL(url + otlp.TracesPath),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}, opts...)
	exp, err := otlptracehttp.New(t.Context(), opts...)
	require.NoError(t, err)
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp
}

// exportTwoServiceTrace sends a small cross-service trace: frontend's
// "GET /roll" server span with a client child, continued by dice-roller's
// "GET /roll" server span, which fails. It returns the ids it created.
func exportTwoServiceTrace(t *testing.T, url string, opts ...otlptracehttp.Option) (traceID, rootID, clientID, serverID string) {
	t.Helper()
	frontend := newProvider(t, url, "frontend", opts...).Tracer("frontend")
	roller := newProvider(t, url, "dice-roller", opts...).Tracer("dice-roller")
	prop := propagation.TraceContext{}

	ctx, root := frontend.Start(t.Context(), "GET /roll", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("die.type", "risky")))
	cctx, client := frontend.Start(ctx, "GET /roll", trace.WithSpanKind(trace.SpanKindClient))

	// Cross the process boundary the way the services do: a traceparent header.
	carrier := propagation.HeaderCarrier(http.Header{})
	prop.Inject(cctx, carrier)
	_, server := roller.Start(prop.Extract(context.Background(), carrier), "GET /roll",
		trace.WithSpanKind(trace.SpanKindServer))
	server.SetAttributes(
		attribute.Int("die.result", 7),
		attribute.Bool("die.error", true),
		attribute.Float64("die.error_rate", 0.1),
		attribute.StringSlice("dice.known", []string{"fair", "risky"}),
		attribute.Int64Slice("async.rolls", []int64{3, 5}),
	)
	server.AddEvent("roll failed", trace.WithAttributes(attribute.Int("attempt", 1)))
	server.SetStatus(codes.Error, "risky die failed")
	server.End()
	client.End()
	root.End()

	return root.SpanContext().TraceID().String(), root.SpanContext().SpanID().String(),
		client.SpanContext().SpanID().String(), server.SpanContext().SpanID().String()
}

func TestReceiverTakesSDKExports(t *testing.T) {
	tests := map[string][]otlptracehttp.Option{
		"protobuf":      nil,
		"protobuf gzip": {otlptracehttp.WithCompression(otlptracehttp.GzipCompression)},
		// v1.47 of the exporter can also send OTLP/JSON, with hex ids.
		"json":      {otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON)},
		"json gzip": {otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON), otlptracehttp.WithCompression(otlptracehttp.GzipCompression)},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			store := otlp.NewStore(otlp.Limits{})
			srv := httptest.NewServer(otlp.NewReceiver(store))
			defer srv.Close()

			traceID, rootID, clientID, serverID := exportTwoServiceTrace(t, srv.URL, opts...)

			tr, ok := store.Trace(traceID)
			require.True(t, ok, "trace %s not stored", traceID)
			require.Len(t, tr.Spans, 3)
			assert.Equal(t, []string{"dice-roller", "frontend"}, tr.Services())
			assert.True(t, tr.HasError())
			assert.Positive(t, tr.Duration())

			root := tr.Root()
			assert.Equal(t, rootID, root.SpanID)
			assert.Equal(t, "frontend", root.Service)
			assert.Equal(t, "Server", root.Kind)
			assert.Empty(t, root.ParentSpanID)
			assert.Equal(t, "risky", root.Attributes["die.type"])
			assert.Equal(t, otlp.StatusUnset, root.Status)
			assert.Equal(t, "frontend", root.Scope)
			assert.Equal(t, "frontend", root.Resource["service.name"])

			spans := map[string]otlp.Span{}
			for _, s := range tr.Spans {
				spans[s.SpanID] = s
			}
			client, server := spans[clientID], spans[serverID]
			assert.Equal(t, rootID, client.ParentSpanID)
			assert.Equal(t, "Client", client.Kind)
			assert.Equal(t, clientID, server.ParentSpanID, "the trace continues across services")
			assert.Equal(t, "dice-roller", server.Service)
			assert.Equal(t, "GET /roll", server.Name)

			// Attribute values keep their types: an int is an int64, not "7".
			assert.Equal(t, int64(7), server.Attributes["die.result"])
			assert.Equal(t, true, server.Attributes["die.error"])
			assert.Equal(t, 0.1, server.Attributes["die.error_rate"])
			assert.Equal(t, []any{"fair", "risky"}, server.Attributes["dice.known"])
			assert.Equal(t, []any{int64(3), int64(5)}, server.Attributes["async.rolls"])
			assert.Equal(t, otlp.StatusError, server.Status)
			assert.Equal(t, "risky die failed", server.StatusMessage)
			require.Len(t, server.Events, 1)
			assert.Equal(t, "roll failed", server.Events[0].Name)
			assert.Equal(t, int64(1), server.Events[0].Attributes["attempt"])
			assert.False(t, server.Start.After(server.End))
		})
	}
}

// otlpJSONTrace follows the OTLP/JSON encoding by hand: hex ids, enums as
// integers, 64-bit integers as strings, lowerCamelCase keys.
const otlpJSONTrace = `{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "die-service"}}]},
    "scopeSpans": [{
      "scope": {"name": "die-service"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "GET /dice",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712660250000000",
        "attributes": [
          {"key": "die.identifier", "value": {"stringValue": "fair"}},
          {"key": "die.found", "value": {"boolValue": true}},
          {"key": "http.response.status_code", "value": {"intValue": "200"}},
          {"key": "big", "value": {"intValue": "9007199254740993"}},
          {"key": "ratio", "value": {"doubleValue": 0.25}},
          {"key": "traceId", "value": {"stringValue": "an attribute, not an id"}}
        ],
        "status": {"code": 2, "message": "spec file unreadable"},
        "futureField": {"ignored": true}
      }]
    }]
  }]
}`

func TestReceiverTakesHandWrittenOTLPJSON(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	rec := post(otlp.NewReceiver(store), otlp.TracesPath, "application/json", "", []byte(otlpJSONTrace))

	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var resp coltracepb.ExportTraceServiceResponse
	require.NoError(t, protojson.Unmarshal(rec.Body.Bytes(), &resp), "the response is an ExportTraceServiceResponse in JSON")
	assert.Nil(t, resp.GetPartialSuccess())

	tr, ok := store.Trace("5b8efff798038103d269b633813fc60c")
	require.True(t, ok, "hex ids decode to the same id (not base64 garbage), case-insensitively")
	require.Len(t, tr.Spans, 1)
	s := tr.Spans[0]
	assert.Equal(t, "eee19b7ec3c1b174", s.SpanID)
	assert.Equal(t, "eee19b7ec3c1b173", s.ParentSpanID)
	assert.Equal(t, "die-service", s.Service)
	assert.Equal(t, "Server", s.Kind)
	assert.Equal(t, "GET /dice", s.Name)
	assert.Equal(t, int64(250_000_000), s.Duration().Nanoseconds())
	assert.Equal(t, map[string]any{
		"die.identifier":            "fair",
		"die.found":                 true,
		"http.response.status_code": int64(200),
		"big":                       int64(9007199254740993), // not rounded through float64
		"ratio":                     0.25,
		"traceId":                   "an attribute, not an id",
	}, s.Attributes)
	assert.Equal(t, otlp.StatusError, s.Status)
	assert.Equal(t, "spec file unreadable", s.StatusMessage)
}

func TestReceiverAnswersInTheRequestEncoding(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxSpansPerTrace: 1})
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: resourceSpans("dice-roller",
		protoSpan(1, 1, 0, "GET /roll-async"), protoSpan(1, 2, 1, "async_roll_0"))}
	body, err := proto.Marshal(req)
	require.NoError(t, err)

	rec := post(otlp.NewReceiver(store), otlp.TracesPath, "application/x-protobuf", "", body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/x-protobuf", rec.Header().Get("Content-Type"))
	var resp coltracepb.ExportTraceServiceResponse
	require.NoError(t, proto.Unmarshal(rec.Body.Bytes(), &resp))
	assert.Equal(t, int64(1), resp.GetPartialSuccess().GetRejectedSpans(), "the span over MaxSpansPerTrace is reported, not silently lost")
	assert.Contains(t, resp.GetPartialSuccess().GetErrorMessage(), "more than 1 spans")
}

func TestReceiverRefusesBadRequests(t *testing.T) {
	valid, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{})
	require.NoError(t, err)
	bomb := gzipped(t, bytes.Repeat([]byte{0}, 4096)) // small on the wire, over the limit inflated

	tests := []struct {
		name, method, path, contentType, encoding string
		body                                      []byte
		want                                      int
	}{
		{"GET", http.MethodGet, otlp.TracesPath, "application/x-protobuf", "", nil, http.StatusMethodNotAllowed},
		{"unknown path", http.MethodPost, "/v1/spans", "application/x-protobuf", "", valid, http.StatusNotFound},
		{"text body", http.MethodPost, otlp.TracesPath, "text/plain", "", valid, http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, otlp.LogsPath, "", "", valid, http.StatusUnsupportedMediaType},
		{"brotli", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "br", valid, http.StatusUnsupportedMediaType},
		{"garbage protobuf", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "", []byte("\xff\xff\xff"), http.StatusBadRequest},
		{"garbage JSON", http.MethodPost, otlp.TracesPath, "application/json", "", []byte(`{"resourceSpans": [`), http.StatusBadRequest},
		{"JSON with base64 ids", http.MethodPost, otlp.TracesPath, "application/json", "",
			[]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}`), http.StatusBadRequest},
		{"JSON logs garbage", http.MethodPost, otlp.LogsPath, "application/json", "", []byte(`[]`), http.StatusBadRequest},
		{"not gzip", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "gzip", valid, http.StatusBadRequest},
		{"too large", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "", make([]byte, 2048), http.StatusRequestEntityTooLarge},
		{"gzip bomb", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "gzip", bomb, http.StatusRequestEntityTooLarge},
		{"empty protobuf is fine", http.MethodPost, otlp.TracesPath, "application/x-protobuf", "", nil, http.StatusOK},
		{"media type parameters", http.MethodPost, otlp.TracesPath, "application/json; charset=utf-8", "", []byte(`{}`), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := otlp.NewReceiver(otlp.NewStore(otlp.Limits{}))
			rc.MaxBodyBytes = 1024
			req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			rc.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
			if tt.want == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
			}
		})
	}
}

func TestReceiverErrorsAreRPCStatusInTheRequestEncoding(t *testing.T) {
	rec := post(otlp.NewReceiver(otlp.NewStore(otlp.Limits{})), otlp.TracesPath, "application/json", "", []byte(`{"resourceSpans": 3}`))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), `"code":3`, "google.rpc.Status INVALID_ARGUMENT")
	assert.Contains(t, rec.Body.String(), "undecodable")
}

func post(h http.Handler, path, contentType, encoding string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
