package otlp_test

import (
	"fmt"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// epoch is an arbitrary fixed instant: tests compare times, never the clock.
var epoch = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// traceID and spanID make readable hex ids from small numbers.
func traceID(n int) string { return fmt.Sprintf("%032x", n) }
func spanID(n int) string  { return fmt.Sprintf("%016x", n) }

// span builds a stored span of trace tn; parent 0 means a root span.
func span(tn, sn, parent int, name string, start, dur time.Duration) otlp.Span {
	s := otlp.Span{
		TraceID: traceID(tn), SpanID: spanID(sn), Name: name, Service: "dice-roller",
		Start: epoch.Add(start), End: epoch.Add(start + dur), Status: otlp.StatusUnset,
	}
	if parent != 0 {
		s.ParentSpanID = spanID(parent)
	}
	return s
}

func protoSpan(tn, sn, parent byte, name string) *tracepb.Span {
	id := func(n byte, size int) []byte {
		if n == 0 {
			return nil
		}
		b := make([]byte, size)
		b[size-1] = n
		return b
	}
	start := uint64(epoch.UnixNano())
	return &tracepb.Span{
		TraceId: id(tn, 16), SpanId: id(sn, 8), ParentSpanId: id(parent, 8), Name: name,
		StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(time.Millisecond),
	}
}

func resourceSpans(service string, spans ...*tracepb.Span) []*tracepb.ResourceSpans {
	return []*tracepb.ResourceSpans{{
		Resource:   serviceResource(service),
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}
}

func serviceResource(service string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{
		Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}},
	}}}
}
