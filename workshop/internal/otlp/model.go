// Package otlp is the workshop's built-in telemetry backend: an OTLP/HTTP
// receiver for traces and logs, and a bounded in-memory store of what it
// received. `workshop up` shows the store in the viewer; `workshop check`
// asserts on it. It exists so the workshop runs on a machine with only Go.
package otlp

import (
	"slices"
	"time"
)

// StatusCode is a span's status, as OTLP names it.
type StatusCode string

// The three span statuses of the OpenTelemetry data model.
const (
	StatusUnset StatusCode = "Unset"
	StatusOK    StatusCode = "Ok"
	StatusError StatusCode = "Error"
)

// Span is one received span. Ids are lowercase hex; attribute values keep
// their OTLP type (int64, float64, bool, string, []any, map[string]any,
// []byte) so a check can tell an int attribute from its string spelling.
type Span struct {
	TraceID      string
	SpanID       string
	ParentSpanID string // "" for a root span
	Name         string
	Service      string // the resource's service.name
	Scope        string // the instrumentation scope (tracer) name
	Kind         string // "Server", "Client", "Internal", "Producer", "Consumer" or "Unspecified"
	Start, End   time.Time

	Attributes    map[string]any
	Resource      map[string]any // resource attributes, service.name included
	Status        StatusCode
	StatusMessage string
	Events        []Event
}

// Event is a timestamped annotation on a span (an exception, a log line).
type Event struct {
	Time       time.Time
	Name       string
	Attributes map[string]any
}

// Duration is how long the span lasted.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// IsError reports whether the span's status is Error.
func (s Span) IsError() bool { return s.Status == StatusError }

// Trace is a snapshot of the spans received so far for one trace id, in
// arrival order. Spans of other services may still be on their way.
type Trace struct {
	ID    string
	Spans []Span
}

// Root is the span the trace starts from: the earliest span without a
// parent or, while the real root has not arrived yet, the earliest span
// whose parent is missing. It is the zero Span only for an empty trace.
func (t Trace) Root() Span {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	rank := func(s Span) int { // lower is a better root
		switch {
		case s.ParentSpanID == "":
			return 0
		case !ids[s.ParentSpanID]:
			return 1
		}
		return 2 // only chosen when parents form a cycle
	}
	var root Span
	for i, s := range t.Spans {
		if i == 0 || rank(s) < rank(root) || rank(s) == rank(root) && s.Start.Before(root.Start) {
			root = s
		}
	}
	return root
}

// Services lists the services that contributed spans, sorted.
func (t Trace) Services() []string {
	var out []string
	for _, s := range t.Spans {
		if !slices.Contains(out, s.Service) {
			out = append(out, s.Service)
		}
	}
	slices.Sort(out)
	return out
}

// Start is the earliest span start.
func (t Trace) Start() time.Time {
	var start time.Time
	for i, s := range t.Spans {
		if i == 0 || s.Start.Before(start) {
			start = s.Start
		}
	}
	return start
}

// End is the latest span end.
func (t Trace) End() time.Time {
	var end time.Time
	for i, s := range t.Spans {
		if i == 0 || s.End.After(end) {
			end = s.End
		}
	}
	return end
}

// Duration spans from the earliest start to the latest end.
func (t Trace) Duration() time.Duration { return t.End().Sub(t.Start()) }

// HasError reports whether any span has an Error status.
func (t Trace) HasError() bool {
	return slices.ContainsFunc(t.Spans, Span.IsError)
}

// LogRecord is one log line, from OTLP or from a service's stdout.
type LogRecord struct {
	Time    time.Time
	Service string
	Level   string // "INFO", "WARNING", "ERROR", ...; "" for a line that was not JSON
	Message string
	TraceID string // hex, "" outside a request
	SpanID  string
	Fields  map[string]any // every other field, typed as in Span.Attributes
}
