package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"

	"github.com/go-o11y-workshop/kit/stages/stage4/internal/telemetry/telemetrytest"
)

// asyncChildren returns the async_roll_i spans, indexed by i.
func asyncChildren(t *testing.T, env *rollerEnv, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	children := make([]sdktrace.ReadOnlySpan, n)
	for i := range n {
		children[i] = env.rec.Span(t, fmt.Sprintf("async_roll_%d", i))
	}
	assert.Empty(t, env.rec.SpansNamed(fmt.Sprintf("async_roll_%d", n)), "more children than rolls")
	return children
}

// TestRollAsyncChildSpans: each roll of a batch is a child span of the
// request's server span, named async_roll_<i>, with its index and result, and
// the children overlap in time.
func TestRollAsyncChildSpans(t *testing.T) {
	const times = 6
	dieService := newFakeDieService(t)
	cfg := testConfig(dieService.URL)
	cfg.maxDelay = 200 * time.Millisecond
	// Every roll waits 0.9 × 200ms, so the rolls overlap unless they run one
	// after the other.
	env := newRollerEnv(t, cfg, fixedRandom(0.9))
	b := env.get(t, fmt.Sprintf("/roll-async?die=fair&times=%d", times)).batch(t)

	server := env.rec.Span(t, "GET /roll-async")
	lookup := env.rec.Span(t, "GET /dice")
	assert.Equal(t, server.SpanContext().SpanID(), lookup.Parent().SpanID(), "the lookup is a child of the server span")
	headers := dieService.requestHeaders()
	require.Len(t, headers, 1)
	assert.Equal(t, server.SpanContext().TraceID(), spanContextFromHeader(t, headers[0]).TraceID())

	children := asyncChildren(t, env, times)
	latestStart, earliestEnd := children[0].StartTime(), children[0].EndTime()
	for i, c := range children {
		assert.Equal(t, server.SpanContext(), c.Parent(), "async_roll_%d's parent is the server span GET /roll-async", i)
		assert.Equal(t, server.SpanContext().TraceID(), c.SpanContext().TraceID(), "async_roll_%d is in the request's trace", i)
		assertAttrs(t, c, map[string]attribute.Value{
			"async.roll_index": attribute.Int64Value(int64(i)),
			"die.result":       attribute.Int64Value(int64(b.Rolls[i])),
			"die.error":        attribute.BoolValue(false),
		})
		assert.NotEqual(t, codes.Error, c.Status().Code)
		assert.False(t, c.StartTime().Before(server.StartTime()), "async_roll_%d starts inside the request", i)
		assert.False(t, c.EndTime().After(server.EndTime()), "async_roll_%d ends inside the request", i)
		if c.StartTime().After(latestStart) {
			latestStart = c.StartTime()
		}
		if c.EndTime().Before(earliestEnd) {
			earliestEnd = c.EndTime()
		}
	}
	assert.True(t, latestStart.Before(earliestEnd),
		"the rolls run concurrently: the last one starts (%v) before the first one ends (%v)", latestStart, earliestEnd)
}

// TestRollAsyncServerSpan: the batch as a whole is described on the server
// span, with int64 attributes; its size as soon as times is valid, before the
// die-service is asked, so a batch refused later still says how big it was.
func TestRollAsyncServerSpan(t *testing.T) {
	const times = 6
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	b := env.get(t, fmt.Sprintf("/roll-async?die=fair&times=%d", times)).batch(t)
	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll-async?die=loaded&times=3").status)
	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll-async?die=fair&times=50").status)

	spans := env.rec.SpansNamed("GET /roll-async")
	require.Len(t, spans, 3, "one server span per request")
	assertAttrs(t, spans[0], map[string]attribute.Value{
		"die.type":           attribute.StringValue("fair"),
		"async.batch_size":   attribute.Int64Value(times),
		"async.total_result": attribute.Int64Value(int64(b.Total)),
		"http.route":         attribute.StringValue("/roll-async"),
	})
	assert.NotEqual(t, codes.Error, spans[0].Status().Code, "a batch that succeeded is not an error")

	assertAttrs(t, spans[1], map[string]attribute.Value{
		"die.type":         attribute.StringValue("loaded"),
		"async.batch_size": attribute.Int64Value(3),
	})
	_, hasTotal := attrOf(spans[1], "async.total_result")
	assert.False(t, hasTotal, "a batch that was never rolled has no total")

	assertAttrs(t, spans[2], map[string]attribute.Value{"die.type": attribute.StringValue("fair")})
	_, hasSize := attrOf(spans[2], "async.batch_size")
	assert.False(t, hasSize, "an invalid times is no batch size")
}

// firstRollFails makes one roll of a doomed die fail at once while the others
// wait maxDelay: the first call to randFloat is a zero delay, every later call
// is the delay of a slow roll (or the failed error check, 0.99 < 1).
func firstRollFails(s *server) {
	var mu sync.Mutex
	calls := 0
	s.roller.randFloat = func() float64 {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return 0
		}
		return 0.99
	}
}

// failedIndex is the failed_roll_index of the "async roll batch failed" log
// line, which the handler writes from the *rollFailure that rollBatch returned.
func failedIndex(t *testing.T, env *rollerEnv) int {
	t.Helper()
	events := env.rec.LogsWithMessage(t, "async roll batch failed")
	require.Len(t, events, 1, "one \"async roll batch failed\" log line")
	i, ok := events[0]["failed_roll_index"].(float64)
	require.True(t, ok, "failed_roll_index is a number: %v", events[0])
	return int(i)
}

func TestRollAsyncFailureCancelsTheOtherRolls(t *testing.T) {
	const times = 5
	dieService := newFakeDieService(t)
	cfg := testConfig(dieService.URL)
	cfg.maxDelay = 5 * time.Second // the healthy rolls would take ~5s if not cancelled
	env := newRollerEnv(t, cfg, firstRollFails)

	start := time.Now()
	a := env.get(t, fmt.Sprintf("/roll-async?die=doomed&times=%d", times))
	took := time.Since(start)
	t.Logf("failed batch answered after %v", took)

	assert.Equal(t, http.StatusInternalServerError, a.status, a.raw)
	assert.Contains(t, a.errorMessage(t), "rolling doomed failed: roll ")
	assert.Less(t, took, cfg.maxDelay, "the other rolls were not cancelled")

	server := env.rec.Span(t, "GET /roll-async")
	children := asyncChildren(t, env, times)
	failed := failedIndex(t, env)
	require.GreaterOrEqual(t, failed, 0)
	require.Less(t, failed, times)
	for i, c := range children {
		assert.Equal(t, server.SpanContext(), c.Parent(), "async_roll_%d's parent is the server span", i)
		assert.Equal(t, codes.Error, c.Status().Code, "async_roll_%d has an error status", i)
		if i == failed {
			assertAttrs(t, c, map[string]attribute.Value{"die.error": attribute.BoolValue(true)})
			assert.Equal(t, errRollFailed.Error(), c.Status().Description, "the failed roll's status says why")
			continue
		}
		assert.True(t, strings.HasPrefix(c.Status().Description, "cancelled"),
			"async_roll_%d was cancelled: its status description starts with \"cancelled\", got %q", i, c.Status().Description)
	}

	events := env.rec.LogsWithMessage(t, "async roll batch failed")
	assert.Equal(t, "ERROR", events[0]["level"])
	assert.Equal(t, float64(times), events[0]["times"])
	assert.Empty(t, env.rec.LogsWithMessage(t, "async roll batch completed"))
	assert.Empty(t, env.rec.LogsWithMessage(t, "async roll completed"), "no roll completed")
	checkLogLines(t, env.rec)
}

// TestRollAsyncFailureIsOnTheServerSpan: a failed batch marks its server
// span as an error and names the roll that broke it, as an int64.
func TestRollAsyncFailureIsOnTheServerSpan(t *testing.T) {
	tests := []struct {
		name   string
		times  int
		adjust func(*server)
	}{
		{"one roll fails, the others are cancelled", 5, firstRollFails},
		{"every roll fails", 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dieService := newFakeDieService(t)
			cfg := testConfig(dieService.URL)
			if tt.adjust != nil {
				cfg.maxDelay = 5 * time.Second
			}
			env := newRollerEnv(t, cfg, tt.adjust)
			a := env.get(t, fmt.Sprintf("/roll-async?die=doomed&times=%d", tt.times))
			require.Equal(t, http.StatusInternalServerError, a.status, a.raw)

			server := env.rec.Span(t, "GET /roll-async")
			assert.Equal(t, codes.Error, server.Status().Code, "a failed batch marks GET /roll-async as an error")
			idx, ok := attrOf(server, "async.failed_roll_index")
			if assert.True(t, ok, "GET /roll-async has async.failed_roll_index") {
				assert.Equal(t, attribute.INT64, idx.Type(), "async.failed_roll_index is an int64 (attribute.Int)")
				assert.Equal(t, int64(failedIndex(t, env)), idx.AsInt64(), "the span names the roll the log line names")
				assert.Contains(t, a.errorMessage(t), fmt.Sprintf("roll %d:", idx.AsInt64()), "the answer names the roll the span names")
			}
			assertAttrs(t, server, map[string]attribute.Value{
				"die.type":         attribute.StringValue("doomed"),
				"async.batch_size": attribute.Int64Value(int64(tt.times)),
			})
			_, hasTotal := attrOf(server, "async.total_result")
			assert.False(t, hasTotal, "a failed batch has no total")
		})
	}
}

func TestRollAsyncLogs(t *testing.T) {
	const times = 4
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	b := env.get(t, fmt.Sprintf("/roll-async?die=fair&times=%d", times)).batch(t)
	lines := checkLogLines(t, env.rec)

	server := env.rec.Span(t, "GET /roll-async")
	serverSpanID := server.SpanContext().SpanID().String()

	started := env.rec.LogsWithMessage(t, "async roll batch started")
	require.Len(t, started, 1)
	assert.Equal(t, "INFO", started[0]["level"])
	assert.Equal(t, "fair", started[0]["die_type"])
	assert.Equal(t, float64(times), started[0]["times"])
	assert.Equal(t, serverSpanID, started[0]["span_id"])

	completed := env.rec.LogsWithMessage(t, "async roll batch completed")
	require.Len(t, completed, 1)
	assert.Equal(t, float64(b.Total), completed[0]["total"])
	assert.Equal(t, toAny(b.Rolls), completed[0]["rolls"])
	assert.Contains(t, completed[0], "duration_ms")
	assert.Equal(t, serverSpanID, completed[0]["span_id"])

	perRoll := env.rec.LogsWithMessage(t, "async roll completed")
	require.Len(t, perRoll, times)
	var indexes []int
	for _, l := range perRoll {
		i := int(l["roll_index"].(float64))
		indexes = append(indexes, i)
		assert.Equal(t, float64(b.Rolls[i]), l["roll_value"])
		child := env.rec.Span(t, fmt.Sprintf("async_roll_%d", i))
		assert.Equal(t, child.SpanContext().SpanID().String(), l["span_id"], "a roll's log line points at its own span")
	}
	slices.Sort(indexes)
	assert.Equal(t, []int{0, 1, 2, 3}, indexes)

	// started comes first, completed last.
	var order []string
	for _, l := range lines {
		order = append(order, l["message"].(string))
	}
	assert.Equal(t, "async roll batch started", order[0])
	assert.Equal(t, "async roll batch completed", order[len(order)-1])
}

func TestRollLogs(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	v := env.get(t, "/roll?die=fair").roll(t)
	env.get(t, "/roll?die=loaded")
	checkLogLines(t, env.rec)

	received := env.rec.LogsWithMessage(t, "roll request received")
	require.Len(t, received, 2)
	assert.Equal(t, "INFO", received[0]["level"])
	assert.Equal(t, "fair", received[0]["die_type"])

	result := env.rec.LogsWithMessage(t, "roll result")
	require.Len(t, result, 1)
	assert.Equal(t, "INFO", result[0]["level"])
	assert.Equal(t, "fair", result[0]["die_type"])
	assert.Equal(t, float64(v), result[0]["roll_value"])

	invalid := env.rec.LogsWithMessage(t, "invalid die")
	require.Len(t, invalid, 1)
	assert.Equal(t, "WARNING", invalid[0]["level"])
	assert.Contains(t, invalid[0]["error"], `unknown die "loaded"`)
}

func toAny(ints []int) []any {
	out := make([]any, len(ints))
	for i, v := range ints {
		out[i] = float64(v)
	}
	return out
}

// verifyNoLeaks checks, once the test and its cleanups are done, that no
// goroutine started during the test is still running.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// rollsStarted counts the rolls whose delay has been drawn: each roll draws
// it (its first call to randFloat) just before it starts waiting.
func rollsStarted(factor float64) (func(*server), func() int) {
	var mu sync.Mutex
	calls := 0
	adjust := func(s *server) {
		s.roller.randFloat = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return factor
		}
	}
	return adjust, func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
}

func TestClientGoingAwayStopsTheBatch(t *testing.T) {
	verifyNoLeaks(t) // first: its cleanup runs after the servers are closed
	const times = 8
	dieService := newFakeDieService(t)
	cfg := testConfig(dieService.URL)
	cfg.maxDelay = 5 * time.Second
	adjust, started := rollsStarted(0.99) // every roll would take ~5s
	env := newRollerEnv(t, cfg, adjust)
	defer env.ts.Client().CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ts.URL+fmt.Sprintf("/roll-async?die=fair&times=%d", times), nil)
	require.NoError(t, err)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := env.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()

	if !assert.Eventually(t, func() bool { return started() >= times }, 3*time.Second, 5*time.Millisecond) {
		t.Logf("only %d of the %d rolls started: do they run at the same time?", started(), times)
	}
	start := time.Now()
	cancel()
	assert.ErrorIs(t, <-clientErr, context.Canceled)

	// The handler notices and returns long before the rolls' 5s delay.
	require.Eventually(t, func() bool { return len(env.rec.SpansNamed("GET /roll-async")) == 1 },
		cfg.maxDelay-time.Second, 5*time.Millisecond, "the batch kept rolling after the client left")
	t.Logf("batch stopped %v after the client left", time.Since(start))

	cancelled := env.rec.LogsWithMessage(t, "async roll batch cancelled")
	require.Len(t, cancelled, 1)
	assert.Contains(t, cancelled[0]["error"], "context canceled")
	assert.Empty(t, env.rec.LogsWithMessage(t, "async roll batch completed"))
	for i, c := range asyncChildren(t, env, times) {
		assert.Equal(t, codes.Error, c.Status().Code, "async_roll_%d", i)
		assert.True(t, strings.HasPrefix(c.Status().Description, "cancelled"),
			"async_roll_%d was cancelled: its status description starts with \"cancelled\", got %q", i, c.Status().Description)
	}
}

func TestClientGoingAwayStopsTheRoll(t *testing.T) {
	verifyNoLeaks(t)
	dieService := newFakeDieService(t)
	cfg := testConfig(dieService.URL)
	cfg.maxDelay = 5 * time.Second
	rolling := make(chan struct{}, 1)
	env := newRollerEnv(t, cfg, func(s *server) {
		s.roller.randFloat = func() float64 {
			select {
			case rolling <- struct{}{}: // the roll's delay is being chosen
			default:
			}
			return 0.99
		}
	})
	defer env.ts.Client().CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ts.URL+"/roll?die=fair", nil)
	require.NoError(t, err)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := env.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()

	<-rolling
	cancel()
	assert.ErrorIs(t, <-clientErr, context.Canceled)
	require.Eventually(t, func() bool { return len(env.rec.SpansNamed("GET /roll")) == 1 },
		cfg.maxDelay-time.Second, 5*time.Millisecond, "the roll kept waiting after the client left")

	cancelled := env.rec.LogsWithMessage(t, "roll cancelled")
	require.Len(t, cancelled, 1)
	assert.Empty(t, env.rec.LogsWithMessage(t, "roll result"))
	assert.Zero(t, counterSum(t, env, "dice_rolls_total"), "a cancelled roll is neither a success nor an error")
	// Answered 499, so the request counts as a 4xx, not as a success.
	span := env.rec.Span(t, "GET /roll")
	status, _ := telemetrytest.Attr(span, "http.response.status_code")
	assert.Equal(t, int64(499), status.AsInt64())
	assert.Equal(t, 1.0, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "4xx"}))
	assert.Zero(t, env.rec.CounterValue(t, "http_requests_total", map[string]string{"handler": "/roll", "method": "GET", "status": "2xx"}))
}

// TestAsyncMetricsOfFailedAndCancelledBatches: a failed batch is still a
// batch (its size and duration are observed), its failed roll is counted and
// its cancelled rolls are not, and the in-progress gauge comes back to 0
// whichever way the rolls end.
func TestAsyncMetricsOfFailedAndCancelledBatches(t *testing.T) {
	t.Run("one roll fails, the others are cancelled", func(t *testing.T) {
		dieService := newFakeDieService(t)
		cfg := testConfig(dieService.URL)
		cfg.maxDelay = 5 * time.Second
		env := newRollerEnv(t, cfg, firstRollFails)
		require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll-async?die=doomed&times=5").status)

		assert.Equal(t, 1.0, env.rec.CounterValue(t, "async_rolls_total", map[string]string{"die_type": "doomed", "result": "error"}),
			"async_rolls_total{die_type=\"doomed\",result=\"error\"}: the failed roll")
		assert.Zero(t, env.rec.CounterValue(t, "async_rolls_total", map[string]string{"die_type": "doomed", "result": "success"}),
			"the cancelled rolls are neither successes nor errors")
		assert.Equal(t, 0.0, gaugeValue(t, env.rec, "async_rolls_in_progress"), "async_rolls_in_progress is back to 0")
		assert.Equal(t, uint64(1), histogram(t, env.rec, "async_roll_batch_size", nil).GetSampleCount(),
			"a valid batch that failed is still a batch")
		assert.Equal(t, uint64(1), histogram(t, env.rec, "async_roll_duration_seconds", nil).GetSampleCount(),
			"a failed batch is timed too")
	})
	t.Run("every roll fails", func(t *testing.T) {
		dieService := newFakeDieService(t)
		env := newRollerEnv(t, testConfig(dieService.URL), nil)
		require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll-async?die=doomed&times=20").status)
		failedRolls := env.rec.CounterValue(t, "async_rolls_total", map[string]string{"die_type": "doomed", "result": "error"})
		assert.GreaterOrEqual(t, failedRolls, 1.0, "at least the roll that failed first is counted")
		assert.LessOrEqual(t, failedRolls, 20.0)
		assert.Equal(t, 0.0, gaugeValue(t, env.rec, "async_rolls_in_progress"), "async_rolls_in_progress is back to 0")
		assert.Equal(t, uint64(1), histogram(t, env.rec, "async_roll_batch_size", nil).GetSampleCount())
	})
	t.Run("the client goes away", func(t *testing.T) {
		const times = 8
		dieService := newFakeDieService(t)
		cfg := testConfig(dieService.URL)
		cfg.maxDelay = 5 * time.Second
		env := newRollerEnv(t, cfg, fixedRandom(0.99)) // every roll would take ~5s
		defer env.ts.Client().CloseIdleConnections()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ts.URL+fmt.Sprintf("/roll-async?die=fair&times=%d", times), nil)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := env.ts.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()

		require.Eventually(t, func() bool {
			m := env.rec.Metric(t, "async_rolls_in_progress", nil)
			return m != nil && m.GetGauge().GetValue() == times
		}, 3*time.Second, 5*time.Millisecond, "async_rolls_in_progress never reached %d while the %d rolls were running", times, times)
		cancel()
		<-done
		require.Eventually(t, func() bool { return len(env.rec.SpansNamed("GET /roll-async")) == 1 },
			cfg.maxDelay-time.Second, 5*time.Millisecond, "the batch kept rolling after the client left")
		assert.Equal(t, 0.0, gaugeValue(t, env.rec, "async_rolls_in_progress"),
			"async_rolls_in_progress is back to 0: every roll's decrement ran (defer)")
		assert.Zero(t, counterSum(t, env, "async_rolls_total"), "a cancelled roll is neither a success nor an error")
	})
}

// TestAsyncRollsAreBornAtZero: async_rolls_total has a die's two series, at
// 0, from the moment the die-service vouched for the die, by /roll or by
// /roll-async; an unknown die never becomes a label value.
func TestAsyncRollsAreBornAtZero(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)
	assert.Nil(t, env.rec.Family(t, "async_rolls_total"), "no die is known before a lookup")

	require.Equal(t, http.StatusBadRequest, env.get(t, "/roll-async?die=loaded&times=2").status)
	assert.Nil(t, env.rec.Family(t, "async_rolls_total"), "an unknown die never becomes a label value")

	env.get(t, "/roll?die=fair").roll(t)
	for _, result := range []string{"success", "error"} {
		m := env.rec.Metric(t, "async_rolls_total", map[string]string{"die_type": "fair", "result": result})
		if assert.NotNil(t, m, "async_rolls_total{die_type=\"fair\",result=%q} exists once the die-service vouched for fair", result) {
			assert.Zero(t, m.GetCounter().GetValue())
		}
	}
	assert.Equal(t, []string{"fair"}, uniqueValues(env.rec.LabelValues(t, "async_rolls_total", "die_type")))
}
