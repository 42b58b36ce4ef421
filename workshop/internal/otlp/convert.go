package otlp

import (
	"encoding/hex"
	"fmt"
	"math"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// unknownService is what the OTel SDKs call a service without service.name.
const unknownService = "unknown_service"

var spanKinds = map[tracepb.Span_SpanKind]string{
	tracepb.Span_SPAN_KIND_UNSPECIFIED: "Unspecified",
	tracepb.Span_SPAN_KIND_INTERNAL:    "Internal",
	tracepb.Span_SPAN_KIND_SERVER:      "Server",
	tracepb.Span_SPAN_KIND_CLIENT:      "Client",
	tracepb.Span_SPAN_KIND_PRODUCER:    "Producer",
	tracepb.Span_SPAN_KIND_CONSUMER:    "Consumer",
}

var statusCodes = map[tracepb.Status_StatusCode]StatusCode{
	tracepb.Status_STATUS_CODE_UNSET: StatusUnset,
	tracepb.Status_STATUS_CODE_OK:    StatusOK,
	tracepb.Status_STATUS_CODE_ERROR: StatusError,
}

// spansFromProto flattens an export request into Spans.
func spansFromProto(req *coltracepb.ExportTraceServiceRequest) []Span {
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		resource, service := resourceAttrs(rs.GetResource())
		for _, ss := range rs.GetScopeSpans() {
			scope := ss.GetScope().GetName()
			for _, ps := range ss.GetSpans() {
				out = append(out, spanFromProto(ps, service, scope, resource))
			}
		}
	}
	return out
}

func spanFromProto(ps *tracepb.Span, service, scope string, resource map[string]any) Span {
	sp := Span{
		TraceID:       hexID(ps.GetTraceId(), 16),
		SpanID:        hexID(ps.GetSpanId(), 8),
		ParentSpanID:  hexID(ps.GetParentSpanId(), 8),
		Name:          ps.GetName(),
		Service:       service,
		Scope:         scope,
		Kind:          spanKinds[ps.GetKind()],
		Start:         unixNano(ps.GetStartTimeUnixNano()),
		End:           unixNano(ps.GetEndTimeUnixNano()),
		Attributes:    attrMap(ps.GetAttributes()),
		Resource:      resource,
		Status:        statusCodes[ps.GetStatus().GetCode()],
		StatusMessage: ps.GetStatus().GetMessage(),
	}
	if sp.Kind == "" {
		sp.Kind = "Unspecified"
	}
	if sp.Status == "" {
		sp.Status = StatusUnset
	}
	for _, ev := range ps.GetEvents() {
		sp.Events = append(sp.Events, Event{
			Time:       unixNano(ev.GetTimeUnixNano()),
			Name:       ev.GetName(),
			Attributes: attrMap(ev.GetAttributes()),
		})
	}
	return sp
}

// logsFromProto flattens an export request into LogRecords.
func logsFromProto(req *collogspb.ExportLogsServiceRequest) []LogRecord {
	var out []LogRecord
	for _, rl := range req.GetResourceLogs() {
		_, service := resourceAttrs(rl.GetResource())
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				out = append(out, logFromProto(lr, service))
			}
		}
	}
	return out
}

func logFromProto(lr *logspb.LogRecord, service string) LogRecord {
	rec := LogRecord{
		Time:    unixNano(lr.GetTimeUnixNano()),
		Service: service,
		Level:   lr.GetSeverityText(),
		TraceID: hexID(lr.GetTraceId(), 16),
		SpanID:  hexID(lr.GetSpanId(), 8),
		Fields:  attrMap(lr.GetAttributes()),
	}
	if rec.Time.IsZero() { // optional in OTLP; the collector's receipt time is
		rec.Time = unixNano(lr.GetObservedTimeUnixNano())
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	if rec.Level == "" {
		rec.Level = severityLevel(lr.GetSeverityNumber())
	}
	switch body := anyValue(lr.GetBody()).(type) {
	case nil:
	case string:
		rec.Message = body
	default:
		rec.Message = fmt.Sprint(body)
	}
	return rec
}

// severityLevel names a severity number in the services' vocabulary
// (WARNING, not WARN).
func severityLevel(n logspb.SeverityNumber) string {
	switch {
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED:
		return ""
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_TRACE4:
		return "TRACE"
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG4:
		return "DEBUG"
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_INFO4:
		return "INFO"
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_WARN4:
		return "WARNING"
	case n <= logspb.SeverityNumber_SEVERITY_NUMBER_ERROR4:
		return "ERROR"
	}
	return "FATAL"
}

// resourceAttrs returns the resource's attributes and its service.name.
func resourceAttrs(r *resourcepb.Resource) (map[string]any, string) {
	attrs := attrMap(r.GetAttributes())
	if name, ok := attrs["service.name"].(string); ok && name != "" {
		return attrs, name
	}
	return attrs, unknownService
}

func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValue(kv.GetValue())
	}
	return m
}

// anyValue unwraps an OTLP AnyValue into the Go type of the value it holds.
func anyValue(v *commonpb.AnyValue) any {
	switch v := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return v.StringValue
	case *commonpb.AnyValue_BoolValue:
		return v.BoolValue
	case *commonpb.AnyValue_IntValue:
		return v.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return v.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return v.BytesValue
	case *commonpb.AnyValue_ArrayValue:
		values := v.ArrayValue.GetValues()
		out := make([]any, len(values))
		for i, x := range values {
			out[i] = anyValue(x)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return attrMap(v.KvlistValue.GetValues())
	}
	return nil
}

// hexID encodes an id, or returns "" when it is absent, all zero or of the
// wrong length: such a span cannot be placed in a trace.
func hexID(b []byte, size int) string {
	if len(b) != size {
		return ""
	}
	return normID(hex.EncodeToString(b))
}

func unixNano(ns uint64) time.Time {
	if ns == 0 || ns > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}
