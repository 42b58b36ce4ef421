package viewer_test

import (
	"fmt"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// epoch is an arbitrary fixed instant: the fixtures never read the clock.
var epoch = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

const (
	asyncTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	failedTraceID = "00f067aa0ba902b7a3ce929d0e0e4736"
)

// asyncRolls are the start offsets and durations of the stage-4 trace's
// five concurrent rolls: they start within 4 ms and overlap.
var asyncRolls = []struct{ start, dur time.Duration }{
	{32 * time.Millisecond, 120 * time.Millisecond},
	{33 * time.Millisecond, 350 * time.Millisecond},
	{33 * time.Millisecond, 80 * time.Millisecond},
	{34 * time.Millisecond, 200 * time.Millisecond},
	{35 * time.Millisecond, 300 * time.Millisecond},
}

// stage4Trace is what one click on "Roll" with async rolling produces: GET
// /roll on the frontend → GET /roll-async on the dice-roller → GET /dice
// (client) → the die-service's server span, plus async_roll_0..4.
func stage4Trace(traceID string, failRoll int) []otlp.Span {
	sp := func(id, parent int, service, name, kind string, start, dur time.Duration, attrs map[string]any) otlp.Span {
		s := otlp.Span{
			TraceID: traceID, SpanID: fmt.Sprintf("%016x", id), Name: name, Service: service, Kind: kind,
			Start: epoch.Add(start), End: epoch.Add(start + dur), Attributes: attrs, Status: otlp.StatusUnset,
		}
		if parent != 0 {
			s.ParentSpanID = fmt.Sprintf("%016x", parent)
		}
		return s
	}
	ms := time.Millisecond
	spans := []otlp.Span{
		sp(1, 0, "frontend", "GET /roll", "Server", 0, 400*ms, map[string]any{"die.type": "fair", "http.route": "/roll"}),
		sp(2, 1, "frontend", "GET /roll-async", "Client", 5*ms, 390*ms, map[string]any{"backend.url": "http://localhost:8107/roll-async?die=fair&times=5"}),
		sp(3, 2, "dice-roller", "GET /roll-async", "Server", 10*ms, 380*ms, map[string]any{"async.batch_size": int64(5), "async.total_result": int64(18)}),
		sp(4, 3, "dice-roller", "GET /dice", "Client", 12*ms, 18*ms, nil),
		sp(5, 4, "die-service", "GET /dice", "Server", 15*ms, 12*ms, map[string]any{"die.identifier": "fair", "die.found": true}),
	}
	for i, r := range asyncRolls {
		s := sp(10+i, 3, "dice-roller", fmt.Sprintf("async_roll_%d", i), "Internal", r.start, r.dur,
			map[string]any{"async.roll_index": int64(i), "die.result": int64(i + 1), "die.error": false})
		if i == failRoll {
			s.Attributes["die.error"] = true
			s.Status, s.StatusMessage = otlp.StatusError, "risky die failed"
		}
		spans = append(spans, s)
	}
	return spans
}

// filledStore holds the async trace, a failed one, and some log lines.
func filledStore() *otlp.Store {
	store := otlp.NewStore(otlp.Limits{})
	store.AddSpans(stage4Trace(asyncTraceID, -1)...)
	store.AddSpans(stage4Trace(failedTraceID, 2)...)
	store.AddLogLine("dice-roller", fmt.Appendf(nil,
		`{"timestamp":"2026-05-04T10:00:00.2Z","level":"INFO","message":"async roll completed","service":"dice-roller","trace_id":%q,"span_id":"000000000000000a","roll_index":0,"roll_value":4}`,
		asyncTraceID))
	store.AddLogLine("dice-roller", fmt.Appendf(nil,
		`{"timestamp":"2026-05-04T10:00:00.3Z","level":"ERROR","message":"async batch failed","service":"dice-roller","trace_id":%q,"failed_roll_index":2}`,
		failedTraceID))
	store.AddLogLine("frontend", []byte(`{"timestamp":"2026-05-04T10:00:00Z","level":"INFO","message":"frontend started","port":8108}`))
	store.AddLogLine("frontend", []byte(`panic: <b>not html</b>`))
	return store
}
