package check

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// TestEveryCheckPassesOnTheCannedReference: the canned run of each stage is
// what its reference produces, so the whole catalog of the stage passes.
func TestEveryCheckPassesOnTheCannedReference(t *testing.T) {
	for n := 1; n <= 4; n++ {
		o := canned(n).observation()
		for _, c := range Catalog(n) {
			out := evaluate(c, o)
			assert.True(t, out.Passed, "stage %d: check %s fails on the canned reference: %s", n, c.ID, out.Err)
		}
	}
}

// cannedFailure is one learner's mistake on a canned run, and what the
// check must say about it.
type cannedFailure struct {
	key      string
	stage    int
	change   func(c *cannedRun)
	expected string // in Failure.Expected
	seen     string // in Failure.Seen
	where    Place  // the first place it points to
	step     string // the step to reread
}

var cannedFailures = []cannedFailure{
	{key: "api", stage: 4, change: func(c *cannedRun) { c.answers["roll"].Body = []byte(`{"value": 4}`) },
		expected: `the dice-roller to answer GET /roll?die=fair with 200 {"roll": n}`, seen: `200 {"value": 4}`,
		where: Place{File: "dice-roller/handlers.go", Func: "handleRoll"}, step: "4.1"},
	{key: "bad-input", stage: 1, change: func(c *cannedRun) { c.answers["missing-die"].Status = 500 },
		expected: "the dice-roller to answer GET /roll with 400 Bad Request: the die parameter is missing", seen: "500 {",
		where: Place{File: "dice-roller/handlers.go", Func: "handleRoll", Exercise: "1.3"}, step: "1.3"},
	{key: "bad-input", stage: 3, change: func(c *cannedRun) { c.answers["unknown-die"].Status = 500 },
		expected: "a 5xx would say the server failed (503 is for a die-service that cannot answer)", seen: "500 {",
		where: Place{File: "dice-roller/handlers.go", Func: "resolveDie", Exercise: "3.3"}, step: "3.3"},
	{key: "server-spans", stage: 2, change: func(c *cannedRun) {
		c.spansWhere(named("frontend", "GET /roll"), setAttr("http.route", nil))
	}, expected: `the frontend's span "GET /roll" with the attributes http.request.method = GET (string)`, seen: "http.route (string) is missing",
		where: Place{File: "internal/telemetry/http.go", Func: "TraceRequests"}, step: "1.2"},
	{key: "roll-span", stage: 1, change: func(c *cannedRun) {
		c.spansWhere(named("dice-roller", "GET /roll"), setAttr("die.error", "false"))
	}, expected: "die.error = false (bool)", seen: "die.error is a string (false), want a bool",
		where: Place{File: "dice-roller/handlers.go", Func: "handleRoll", Exercise: "1.3"}, step: "1.3"},
	{key: "http-metrics", stage: 3, change: func(c *cannedRun) {
		c.metric("die-service", `handler="/dice",method="GET",status="4xx"`, `handler="/dice?identifier=x",method="GET",status="4xx"`)
	}, expected: `the handler label to be the route pattern ("/dice")`, seen: `handler="/dice?identifier=x" on the die-service`,
		where: Place{File: "internal/telemetry/http.go", Func: "Middleware"}, step: "1.4"},
	{key: "dice-metrics", stage: 1, change: func(c *cannedRun) {
		c.metric("dice-roller", `dice_roll_value_bucket{die_type="fair",le="8"} 3`+"\n", "")
	}, expected: "dice_roll_value buckets 1, 2, …, 8", seen: "buckets [1 2 3 4 5 6 7]",
		where: Place{File: "dice-roller/metrics.go", Func: "newMetrics", Exercise: "1.5"}, step: "1.5"},
	{key: "logs-json", stage: 2, change: func(c *cannedRun) {
		c.logs["frontend"] = append(c.logs["frontend"], logLine("WARN", "backend slow", "", ""))
	}, expected: `"level" INFO, WARNING or ERROR on every line of the frontend`, seen: `WARN in {`,
		where: Place{File: "internal/telemetry/logger.go", Func: "NewLogger"}, step: "1.6"},
	{key: "logs-trace", stage: 1, change: func(c *cannedRun) {
		c.logs["dice-roller"][1] = logLine("INFO", "roll result", "", "", "die_type", "fair")
	}, expected: `"trace_id" (32 hex digits) and "span_id" (16 hex digits) on the "roll result" line`, seen: "the logger does not add them",
		where: Place{File: "internal/telemetry/logger.go", Func: "Handle", Exercise: "1.6"}, step: "1.6"},
	{key: "flush", stage: 3, change: func(c *cannedRun) { c.dropSpans(c.inTrace("last-roll", func(otlp.Span) bool { return true })) },
		expected: "the span of the request answered just before SIGTERM to arrive during shutdown", seen: "it never arrived",
		where: Place{File: "internal/telemetry/otel.go", Func: "SetupOTelSDK"}, step: "1.1"},
	{key: "frontend-trace", stage: 2, change: func(c *cannedRun) {
		// No propagator: the dice-roller starts a trace of its own.
		c.spansWhere(c.inTrace("frontend-roll", named("dice-roller", "GET /roll")), func(s *otlp.Span) {
			s.TraceID, s.ParentSpanID = fmt.Sprintf("%032x", 999), ""
		})
	}, expected: "the dice-roller's server span in the frontend's trace", seen: "span(s) from the dice-roller, in other traces: no traceparent header reached the dice-roller",
		where: Place{File: "internal/telemetry/otel.go", Func: "SetupOTelSDK", Exercise: "2.3"}, step: "2.3"},
	{key: "frontend-span", stage: 2, change: func(c *cannedRun) {
		c.spansWhere(named("frontend", "GET /roll"), setAttr("backend.status_code", "200"))
	}, expected: "backend.status_code = 200 (int)", seen: "backend.status_code is a string (200), want a int",
		where: Place{File: "frontend/handlers.go", Func: "relay", Exercise: "2.2"}, step: "2.2"},
	{key: "frontend-metrics", stage: 2, change: func(c *cannedRun) {
		c.metric("frontend", `frontend_requests_total{die_type="unknown"`, `frontend_requests_total{die_type="no-such-die"`)
	}, expected: "frontend_requests_total's die_type label to stay in {fair, risky, unknown}", seen: `the value "no-such-die"`,
		where: Place{File: "frontend/handlers.go", Func: "relay", Exercise: "2.4"}, step: "2.4"},
	{key: "die-service", stage: 3, change: func(c *cannedRun) {
		c.metric("die-service", `die_specifications_requested_total{identifier="unknown"}`, `die_specifications_requested_total{identifier="no-such-die"}`)
	}, expected: `die_specifications_requested_total{identifier="unknown"} above 0`, seen: `{identifier="no-such-die"}`,
		where: Place{File: "die-service/handlers.go", Func: "handleDice", Exercise: "3.1"}, step: "3.1"},
	{key: "lookup-metrics", stage: 4, change: func(c *cannedRun) {
		c.metric("dice-roller", `identifier="unknown",status="not_found"`, `identifier="no-such-die",status="not_found"`)
	}, expected: `die_service_requests_total{identifier="unknown",status="not_found"} above 0`, seen: `{identifier="no-such-die",status="not_found"}`,
		where: Place{File: "dice-roller/dice.go", Func: "lookup"}, step: "3.2"},
	{key: "three-service-trace", stage: 3, change: func(c *cannedRun) {
		// http.DefaultClient: no client span, no traceparent to the die-service.
		c.dropSpans(c.inTrace("frontend-roll", func(s otlp.Span) bool { return s.Service == "dice-roller" && s.Kind == "Client" }))
		c.spansWhere(c.inTrace("frontend-roll", named("die-service", "GET /dice")), func(s *otlp.Span) {
			s.TraceID, s.ParentSpanID = fmt.Sprintf("%032x", 998), ""
		})
	}, expected: `the die-service's server span "GET /dice" in the same trace`, seen: "carried no traceparent header",
		where: Place{File: "dice-roller/handlers.go", Func: "newServer", Exercise: "3.4"}, step: "3.4"},
	{key: "three-service-trace", stage: 3, change: func(c *cannedRun) {
		// http.NewRequest: the frontend's die-list request, made without the
		// ctx of "load die list", starts a trace of its own.
		fetch := func(s otlp.Span) bool {
			return s.Service == "frontend" && s.Name == "GET /dice" || s.Service == "die-service" && s.ParentSpanID != "" && s.TraceID == fmt.Sprintf("%032x", 0xd1ce)
		}
		c.spansWhere(fetch, func(s *otlp.Span) { s.TraceID = fmt.Sprintf("%032x", 997) })
		c.spansWhere(named("frontend", "GET /dice"), func(s *otlp.Span) { s.ParentSpanID = "" })
	}, expected: `the frontend's request for the die list (its client span "GET /dice") to be a child of the span that caused it: "load die list" at startup`,
		seen:  `1 of the frontend's 1 die-list request(s), each the root of a trace of its own, the die-service's "GET /dice" under it: the request is made without the caller's ctx`,
		where: Place{File: "frontend/dice.go", Func: "fetch", Exercise: "3.4"}, step: "3.4"},
	{key: "async-children", stage: 4, change: func(c *cannedRun) {
		for i := range asyncTimes {
			c.spansWhere(named("dice-roller", fmt.Sprintf("async_roll_%d", i)), func(s *otlp.Span) {
				s.TraceID, s.ParentSpanID = fmt.Sprintf("%032x", 900+i), ""
			})
		}
	}, expected: "10 spans async_roll_0..async_roll_9, children", seen: "10 async_roll_* spans that are each the root of a trace of their own",
		where: Place{File: "dice-roller/batch.go", Func: "rollOne", Exercise: "4.1"}, step: "4.2"},
	{key: "async-overlap", stage: 4, change: func(c *cannedRun) {
		for i := range asyncTimes {
			c.spansWhere(named("dice-roller", fmt.Sprintf("async_roll_%d", i)), func(s *otlp.Span) {
				s.Start = t0.Add(time.Duration(i) * 50 * time.Millisecond)
				s.End = s.Start.Add(40 * time.Millisecond)
			})
		}
	}, expected: "the 10 rolls to overlap in time", seen: "the rolls took 490ms together, one after the other: 400ms in all",
		where: Place{File: "dice-roller/batch.go", Func: "rollBatch", Exercise: "4.1"}, step: "4.1"},
	{key: "async-span", stage: 4, change: func(c *cannedRun) {
		c.spansWhere(named("dice-roller", "GET /roll-async"), setAttr("async.total_result", "31"))
	}, expected: "async.total_result = 31 (int)", seen: "async.total_result is a string (31), want a int",
		where: Place{File: "dice-roller/handlers.go", Func: "handleRollAsync", Exercise: "4.3"}, step: "4.3"},
	{key: "async-metrics", stage: 4, change: func(c *cannedRun) {
		c.metric("dice-roller", "async_rolls_in_progress 0", "async_rolls_in_progress 3")
	}, expected: "async_rolls_in_progress back to 0", seen: "3: a way out of a roll does not lower it",
		where: Place{File: "dice-roller/batch.go", Func: "rollOne", Exercise: "4.4"}, step: "4.4"},
}

// TestEveryCheckFailsOnItsCannedMistake: one fact changed in the canned
// reference fails its check, and only it, with what a learner reads.
func TestEveryCheckFailsOnItsCannedMistake(t *testing.T) {
	for _, tc := range cannedFailures {
		t.Run(tc.key, func(t *testing.T) {
			c := canned(tc.stage)
			tc.change(c)
			o := c.observation()
			var failed []string
			for _, ch := range Catalog(tc.stage) {
				out := evaluate(ch, o)
				if out.Passed {
					continue
				}
				failed = append(failed, ch.ID)
				if ch.ID != tc.key {
					continue
				}
				require.NotNil(t, out.Failure)
				assert.Contains(t, out.Failure.Expected, tc.expected)
				assert.Contains(t, out.Failure.Seen, tc.seen)
				require.NotEmpty(t, out.Places())
				assert.Equal(t, tc.where, out.Places()[0])
				assert.Equal(t, tc.step, out.StepToRead())
			}
			assert.Equal(t, []string{tc.key}, failed, "the mistake fails its check and no other")
		})
	}
}

// TestEveryCheckHasCannedCases keeps the canned tests whole: a check added
// to the catalog needs a canned mistake that fails it, and the canned
// reference of each stage it applies to must pass it.
func TestEveryCheckHasCannedCases(t *testing.T) {
	for _, s := range catalog {
		n := 0
		for _, tc := range cannedFailures {
			if tc.key == s.key {
				n++
				_, applies := s.steps[tc.stage]
				assert.True(t, applies, "the canned mistake of %s is in stage %d, where the check does not apply", s.key, tc.stage)
			}
		}
		assert.NotZero(t, n, "check %s has no canned mistake in cannedFailures", s.key)
		for stage := range s.steps {
			c, ok := findCheck(stage, s.key)
			require.True(t, ok)
			assert.True(t, evaluate(c, canned(stage).observation()).Passed, "check %s passes on the canned stage %d", s.key, stage)
		}
	}
}

func findCheck(stage int, key string) (Check, bool) {
	for _, c := range Catalog(stage) {
		if c.ID == key {
			return c, true
		}
	}
	return Check{}, false
}

// With both halves of exercise 3.4 undone (the starter), the failure of the
// dice-roller's half names the frontend's die-list fetch too: both places on
// the first run, not the second only after the first is fixed.
func TestThreeServiceTraceNamesBothHalves(t *testing.T) {
	var halves []cannedFailure
	for _, tc := range cannedFailures {
		if tc.key == "three-service-trace" {
			halves = append(halves, tc)
		}
	}
	require.Len(t, halves, 2, "the dice-roller's half and the frontend's")
	c := canned(3)
	for _, h := range halves {
		h.change(c)
	}
	out := evaluate(Catalog(3)[14], c.observation())
	require.Equal(t, "three-service-trace", out.Check.ID)
	require.NotNil(t, out.Failure)
	assert.Contains(t, out.Failure.Seen, "carried no traceparent header")
	assert.Contains(t, out.Failure.Seen, "the die list does not join the trace that caused it either")
	assert.Contains(t, out.Places(), halves[1].where)
	assert.Equal(t, halves[0].where, out.Places()[0])

	// One half undone: only its own place.
	c = canned(3)
	halves[0].change(c)
	out = evaluate(Catalog(3)[14], c.observation())
	require.NotNil(t, out.Failure)
	assert.NotContains(t, out.Places(), halves[1].where)
}

// A batch whose rolls start no span at all (the untouched starter) is
// exercise 4.1's work: async-children sends the learner to step 4.1, not to
// step 4.2's mistakes about spans in the wrong place.
func TestNoRollSpansPointsToStep41(t *testing.T) {
	c := canned(4)
	c.dropSpans(func(s otlp.Span) bool { return strings.HasPrefix(s.Name, "async_roll_") })
	o := c.observation()
	for _, ch := range Catalog(4) {
		if ch.ID != "async-children" && ch.ID != "async-overlap" {
			continue
		}
		out := evaluate(ch, o)
		require.NotNil(t, out.Failure, ch.ID)
		assert.Contains(t, out.Failure.Seen, "no async_roll_* span was received at all", ch.ID)
		assert.Equal(t, "4.1", out.StepToRead(), ch.ID)
		assert.Equal(t, Place{File: "dice-roller/batch.go", Func: "rollOne", Exercise: "4.1"}, out.Places()[0], ch.ID)
	}
}
