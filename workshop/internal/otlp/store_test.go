package otlp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

func TestStoreKeepsAtMostMaxTracesDroppingTheOldest(t *testing.T) {
	const max, spansPer = 10, 3
	store := otlp.NewStore(otlp.Limits{MaxTraces: max})
	for n := 1; n <= 100; n++ {
		store.AddSpans(
			span(n, 1, 0, "GET /roll", time.Duration(n)*time.Second, time.Millisecond),
			span(n, 2, 1, "GET /dice", time.Duration(n)*time.Second, time.Microsecond),
			span(n, 3, 1, "roll", time.Duration(n)*time.Second, time.Microsecond),
		)
		st := store.Stats()
		require.LessOrEqual(t, st.Traces, max, "after trace %d", n)
		require.Equal(t, st.Traces*spansPer, st.Spans, "evicted spans are let go, memory stays flat")
	}

	traces := store.Traces(0)
	require.Len(t, traces, max)
	for i, tr := range traces {
		assert.Equal(t, traceID(100-i), tr.ID, "newest first: the survivors are the last %d", max)
	}
	_, ok := store.Trace(traceID(90))
	assert.False(t, ok, "trace 90 was dropped")
	assert.Equal(t, 90, store.Stats().EvictedTraces)
	assert.Len(t, store.Traces(3), 3)
}

func TestStoreEvictsByFirstSeenNotByLastUpdate(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxTraces: 2})
	store.AddSpans(span(1, 1, 0, "a", 0, time.Second))
	store.AddSpans(span(2, 1, 0, "b", time.Second, time.Second))
	store.AddSpans(span(1, 2, 1, "a child, late", 0, time.Second)) // trace 1 is still the oldest
	store.AddSpans(span(3, 1, 0, "c", 2*time.Second, time.Second))

	_, ok := store.Trace(traceID(1))
	assert.False(t, ok)
	_, ok = store.Trace(traceID(2))
	assert.True(t, ok)
}

func TestStoreBoundsSpansPerTraceAndDeduplicatesRetries(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxSpansPerTrace: 3})
	assert.Zero(t, store.AddSpans(span(1, 1, 0, "root", 0, time.Second), span(1, 2, 1, "child", 0, time.Second)))

	retried := span(1, 2, 1, "child, re-sent", 0, time.Second)
	assert.Zero(t, store.AddSpans(retried), "a re-sent span replaces its first copy")
	rejected := store.AddSpans(span(1, 3, 1, "third", 0, time.Second), span(1, 4, 1, "fourth", 0, time.Second))
	assert.Equal(t, 1, rejected)

	tr, _ := store.Trace(traceID(1))
	require.Len(t, tr.Spans, 3)
	assert.Equal(t, "child, re-sent", tr.Spans[1].Name)
	assert.Equal(t, 1, store.Stats().RejectedSpans)
}

func TestStoreRefusesSpansWithoutIDs(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	noTrace := span(1, 1, 0, "x", 0, time.Second)
	noTrace.TraceID = "00000000000000000000000000000000"
	noSpan := span(1, 1, 0, "y", 0, time.Second)
	noSpan.SpanID = ""
	assert.Equal(t, 2, store.AddSpans(noTrace, noSpan))
	assert.Empty(t, store.Traces(0))
}

func TestStoreLooksUpIDsCaseInsensitively(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	s := span(0xabc, 1, 0, "x", 0, time.Second)
	s.TraceID = "0000000000000000000000000000ABCD"
	store.AddSpans(s)
	_, ok := store.Trace("0000000000000000000000000000abcd")
	assert.True(t, ok)
}

func TestTraceSummary(t *testing.T) {
	root := span(1, 1, 0, "GET /roll", 0, 100*time.Millisecond)
	root.Service = "frontend"
	child := span(1, 2, 1, "GET /roll-async", 10*time.Millisecond, 120*time.Millisecond)
	orphan := span(1, 3, 99, "async_roll_0", 20*time.Millisecond, 10*time.Millisecond)
	orphan.Status = otlp.StatusError

	tests := []struct {
		name     string
		spans    []otlp.Span
		root     string
		services []string
		duration time.Duration
		hasError bool
	}{
		{"complete", []otlp.Span{child, root}, "GET /roll", []string{"dice-roller", "frontend"}, 130 * time.Millisecond, false},
		{"root not arrived yet", []otlp.Span{orphan, child}, "GET /roll-async", []string{"dice-roller"}, 120 * time.Millisecond, true},
		{"empty", nil, "", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := otlp.Trace{ID: traceID(1), Spans: tt.spans}
			assert.Equal(t, tt.root, tr.Root().Name)
			assert.Equal(t, tt.services, tr.Services())
			assert.Equal(t, tt.duration, tr.Duration())
			assert.Equal(t, tt.hasError, tr.HasError())
		})
	}
}

func TestStoreServicesCoverSpansAndLogs(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	s := span(1, 1, 0, "x", 0, time.Second)
	s.Service = "frontend"
	store.AddSpans(s, span(1, 2, 1, "y", 0, time.Second))
	store.AddLogs(otlp.LogRecord{Service: "die-service", Message: "started"})
	assert.Equal(t, []string{"dice-roller", "die-service", "frontend"}, store.Services())
}

func TestWaitForWakesOnWrites(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a safety net, not an assertion
	defer cancel()

	go func() {
		for n := 1; n <= 5; n++ {
			store.AddSpans(span(n, 1, 0, "GET /roll", 0, time.Second))
		}
	}()
	err := store.WaitFor(ctx, func(s *otlp.Store) bool { return len(s.Traces(0)) == 5 })
	require.NoError(t, err)

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	err = store.WaitFor(cancelled, func(*otlp.Store) bool { return false })
	assert.ErrorIs(t, err, context.Canceled)
}

func TestChangedIsClosedByTheNextWrite(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	changed := store.Changed()
	select {
	case <-changed:
		t.Fatal("closed before any write")
	default:
	}
	store.AddLogLine("frontend", []byte("hello"))
	<-changed // would block forever, and time the test out, if not closed
}

// TestStoreUnderConcurrentUse is for -race: writers and readers at once,
// and the bound holds in every snapshot a reader takes.
func TestStoreUnderConcurrentUse(t *testing.T) {
	const max = 20
	store := otlp.NewStore(otlp.Limits{MaxTraces: max, MaxLogsPerService: 50})
	var writers, readers sync.WaitGroup
	done := make(chan struct{})

	for w := range 4 {
		writers.Go(func() {
			for i := range 200 {
				n := w*1000 + i + 1
				store.AddSpans(span(n, 1, 0, "GET /roll", 0, time.Second), span(n, 2, 1, "roll", 0, time.Second))
				store.AddLogLine(fmt.Sprintf("svc-%d", w), fmt.Appendf(nil, `{"message":"roll %d","trace_id":%q}`, i, traceID(n)))
			}
		})
	}
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				traces := store.Traces(0)
				assert.LessOrEqual(t, len(traces), max)
				for _, tr := range traces {
					_ = tr.Root().Name
					if got, ok := store.Trace(tr.ID); ok {
						assert.Equal(t, tr.ID, got.ID)
					}
				}
				_ = store.Services()
				_ = store.Logs("", 10)
				_ = store.Stats()
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()

	st := store.Stats()
	assert.Equal(t, max, st.Traces)
	assert.Equal(t, 4*50, st.Logs)
	assert.Equal(t, 800-max, st.EvictedTraces)
}
