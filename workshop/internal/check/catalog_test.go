package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestCatalogIDsAndSteps(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	want := map[int]int{1: 9, 2: 12, 3: 15, 4: 19}
	for n := 1; n <= 4; n++ {
		checks := Catalog(n)
		assert.Len(t, checks, want[n], "stage %d", n)
		keys := map[string]bool{}
		for i, c := range checks {
			assert.Equal(t, fmt.Sprintf("%d.%d", n, i+1), c.ID)
			assert.False(t, keys[c.Key], "key %s is unique", c.Key)
			keys[c.Key] = true
			assert.NotEmpty(t, c.Title)
			assert.NotEmpty(t, c.Hint)
			// The step a failure points to is a real step of a real lesson.
			stage, err := lesson.SplitID(c.Step)
			require.NoError(t, err, c.Step)
			assert.LessOrEqual(t, stage, n, "%s points to a step of this stage or an earlier one", c.ID)
			l, err := lesson.Load(root, stage)
			require.NoError(t, err)
			_, err = l.Step(c.Step)
			assert.NoError(t, err, "check %s (%s) points to step %s", c.ID, c.Key, c.Step)
		}
	}
	assert.Empty(t, Catalog(5))
}

func TestTreeOfDrawsTheTraceWithTimings(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tr := otlp.Trace{ID: "t", Spans: []otlp.Span{
		{SpanID: "b", ParentSpanID: "a", Name: "async_roll_0", Service: "dice-roller", Kind: "Internal", Start: t0.Add(2 * time.Millisecond), End: t0.Add(40 * time.Millisecond)},
		{SpanID: "a", Name: "GET /roll-async", Service: "dice-roller", Kind: "Server", Start: t0, End: t0.Add(50 * time.Millisecond)},
		{SpanID: "c", ParentSpanID: "zz", Name: "orphan", Service: "frontend", Kind: "Client", Start: t0.Add(time.Millisecond), End: t0.Add(3 * time.Millisecond)},
	}}
	assert.Equal(t, strings.Join([]string{
		"  GET /roll-async [dice-roller, server] +0s 50ms",
		"    async_roll_0 [dice-roller, internal] +2ms 38ms",
		"  orphan [frontend, client] +1ms 2ms",
	}, "\n"), treeOf(tr))
	assert.Equal(t, "  (no spans received)", treeOf(otlp.Trace{}))
}

func TestWantAttrsNamesTypeAndValueProblems(t *testing.T) {
	s := otlp.Span{Name: "GET /roll", Service: "dice-roller", Attributes: map[string]any{
		"die.type": "fair", "die.result": "4", "die.error": false,
	}}
	f := wantAttrs(s, map[string]string{"die.type": "string", "die.result": "int", "die.error": "bool", "http.route": "string"},
		map[string]any{"die.error": true})
	require.NotNil(t, f)
	assert.Contains(t, f.Seen, "die.error = false, want true")
	assert.Contains(t, f.Seen, "die.result is a string (4), want a int")
	assert.Contains(t, f.Seen, "http.route (string) is missing")
	assert.Nil(t, wantAttrs(s, map[string]string{"die.type": "string"}, map[string]any{"die.type": "fair"}))
}

func TestReportAndJSON(t *testing.T) {
	res := &Result{Stage: 4, Dir: "exercises/stage4", Runtime: "local", Duration: 3 * time.Second, Outcomes: []Outcome{
		{Check: Catalog(4)[0], Passed: true},
		{Check: Catalog(4)[15], Failure: &Failure{Expected: "children", Seen: "orphans", Trace: "  GET /roll-async [dice-roller, server] +0s 5ms"}, Err: "x"},
	}}
	var out bytes.Buffer
	WriteReport(&out, res, false)
	text := out.String()
	assert.Contains(t, text, "PASS 4.1   The API answers rolls")
	assert.Contains(t, text, "FAIL 4.16  Each roll of a batch is a child span of the request")
	assert.Contains(t, text, "expected: children")
	assert.Contains(t, text, "seen:     orphans")
	assert.Contains(t, text, "GET /roll-async [dice-roller, server]")
	assert.Contains(t, text, "read: workshop show 4 4.2")
	assert.Contains(t, text, "1/2 checks pass.")
	assert.NotContains(t, text, "\x1b[")

	out.Reset()
	WriteReport(&out, res, true)
	assert.Contains(t, out.String(), "\x1b[31mFAIL\x1b[0m")

	out.Reset()
	require.NoError(t, WriteJSON(&out, res))
	var j JSON
	require.NoError(t, json.Unmarshal(out.Bytes(), &j))
	assert.Equal(t, 1, j.Schema)
	assert.False(t, j.OK)
	assert.Equal(t, 1, j.Passed)
	assert.Equal(t, 2, j.Total)
	assert.Equal(t, int64(3000), j.DurationMS)
	assert.Equal(t, "4.16", j.Checks[1].ID)
	assert.Equal(t, "async-children", j.Checks[1].Key)
	assert.Equal(t, "fail", j.Checks[1].Status)
	assert.Equal(t, "orphans", j.Checks[1].Seen)
	assert.Equal(t, "4.2", j.Checks[1].Step)
	assert.Equal(t, "pass", j.Checks[0].Status)
	assert.Empty(t, j.Checks[0].Hint, "a passing check carries no hint")
}

func TestReportOfABuildFailure(t *testing.T) {
	res := &Result{Stage: 2, Dir: "x", Runtime: "local", Setup: &stage.BuildError{Service: "frontend", Output: "./handlers.go:12:2: undefined: foo"}}
	var out bytes.Buffer
	WriteReport(&out, res, false)
	assert.Contains(t, out.String(), "BUILD frontend does not compile")
	assert.Contains(t, out.String(), "undefined: foo")
	assert.False(t, res.OK())

	res = &Result{Stage: 1, Dir: "x", Runtime: "local", Setup: errors.New("dice-roller exited during startup (exit status 2)"),
		LogTail: map[string][]string{"dice-roller": {"dice-roller: invalid ROLL_MAX_DELAY"}}}
	out.Reset()
	WriteReport(&out, res, false)
	assert.Contains(t, out.String(), "START the stage did not start")
	assert.Contains(t, out.String(), "invalid ROLL_MAX_DELAY")
}

func TestEvaluateSurvivesAPanickingCheck(t *testing.T) {
	c := Check{ID: "9.9", run: func(*Observation) error { panic("boom") }}
	out := evaluate(c, &Observation{})
	assert.False(t, out.Passed)
	assert.Contains(t, out.Err, "boom")
}

// TestManifestsListTheChecksOfEachStep: a step's `checks` in lesson.toml are
// exactly the checks of its stage that point back at it.
func TestManifestsListTheChecksOfEachStep(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	for n := 1; n <= 4; n++ {
		l, err := lesson.Load(root, n)
		require.NoError(t, err)
		want := map[string][]string{}
		for _, c := range Catalog(n) {
			if stage, _ := lesson.SplitID(c.Step); stage == n {
				want[c.Step] = append(want[c.Step], c.ID)
			}
		}
		for _, step := range l.Steps {
			assert.ElementsMatch(t, want[step.ID], step.Checks, "lesson.toml of stage %d, step %s: checks", n, step.ID)
		}
	}
}
