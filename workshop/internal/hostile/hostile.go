// Package hostile holds the hostile inputs of issue 14 as fixtures, for the
// tests that reproduce each attack and for the flood command that measures
// the CLI under them: OTLP export requests a stranger on the room's network
// could send to a learner's receiver.
package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Service is the service.name the fixtures send as.
const Service = "flood"

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func resource(service string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", service)}}
}

func randomID(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func rootSpan(name string, attrs ...*commonpb.KeyValue) *tracepb.Span {
	now := uint64(time.Now().UnixNano())
	return &tracepb.Span{TraceId: randomID(16), SpanId: randomID(8), Name: name, Kind: tracepb.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: now, EndTimeUnixNano: now + uint64(time.Millisecond), Attributes: attrs}
}

// TraceIDFlood is one export request of n root spans, each of its own
// trace: 600 of them pushed every real trace out of a store of 500.
func TraceIDFlood(n int) *coltracepb.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		spans[i] = rootSpan(fmt.Sprintf("flood %d", i))
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: resource(Service), ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

// BigAttribute is one export request of one trace whose span carries an
// attribute of size bytes: 120 of 15 MB took the CLI to 2.5 GB.
func BigAttribute(size int) *coltracepb.ExportTraceServiceRequest {
	sp := rootSpan("big attribute", str("blob", strings.Repeat("x", size)))
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: resource(Service), ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}},
	}}}
}

// BigLogLines is one export request of n log records of size bytes each:
// 200 of 1 MB made the viewer's logs page 210 MB.
func BigLogLines(n, size int) *collogspb.ExportLogsServiceRequest {
	body := strings.Repeat("y", size)
	recs := make([]*logspb.LogRecord, n)
	for i := range recs {
		recs[i] = &logspb.LogRecord{TimeUnixNano: uint64(time.Now().UnixNano()), SeverityText: "INFO",
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}}}
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: resource(Service), ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}},
	}}}
}

// Post sends an export request to an OTLP/HTTP base URL ("http://host:port")
// in protobuf and returns the status.
func Post(ctx context.Context, base string, m proto.Message) (int, error) {
	path := "/v1/traces"
	if _, ok := m.(*collogspb.ExportLogsServiceRequest); ok {
		path = "/v1/logs"
	}
	body, err := proto.Marshal(m)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
