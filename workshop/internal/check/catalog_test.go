package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestCatalogIDsAndSteps(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	want := map[int]int{1: 9, 2: 12, 3: 15, 4: 19}
	for n := 1; n <= 4; n++ {
		checks := Catalog(n)
		assert.Len(t, checks, want[n], "stage %d", n)
		ids := map[string]bool{}
		for _, c := range checks {
			// An id is a key, never a number that reads like a step or an exercise.
			assert.Regexp(t, `^[a-z]+(-[a-z]+)*$`, c.ID)
			assert.False(t, ids[c.ID], "id %s is unique", c.ID)
			ids[c.ID] = true
			assert.Equal(t, n, c.Stage)
			assert.NotEmpty(t, c.Title)
			assert.NotEmpty(t, c.Hint)
			assert.NotEmpty(t, c.Where, "check %s says where to look in stage %d", c.ID, n)
			// The step a failure points to is a real step of a real lesson.
			stage, err := lesson.SplitID(c.Step)
			require.NoError(t, err, c.Step)
			assert.LessOrEqual(t, stage, n, "check %s points to a step of this stage or an earlier one", c.ID)
			l, err := lesson.Load(root, stage)
			require.NoError(t, err)
			_, err = l.Step(c.Step)
			assert.NoError(t, err, "check %s points to step %s", c.ID, c.Step)
		}
	}
	assert.Empty(t, Catalog(5))
	assert.Len(t, Keys(), len(catalog))
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
	children := Catalog(4)[15]
	require.Equal(t, "async-children", children.ID)
	res := &Result{Stage: 4, Dir: "exercises/stage4", Runtime: "local", Duration: 3 * time.Second, Outcomes: []Outcome{
		{Check: Catalog(4)[0], Passed: true},
		{Check: children, Failure: &Failure{Expected: "children", Seen: "orphans", Trace: "  GET /roll-async [dice-roller, server] +0s 5ms"}, Err: "x"},
		{Check: Catalog(4)[18], Failure: fail("the metric async_rolls_total", "no such metric").at(pAsyncMetrics, pRollOneMetrics, pSDK), Err: "x"},
	}}
	var out bytes.Buffer
	WriteReport(&out, res, false)
	text := out.String()
	assert.Contains(t, text, "  PASS  check api             The API answers rolls\n")
	assert.Contains(t, text, "  FAIL  check async-children  Each roll of a batch is a child span of the request\n")
	assert.Contains(t, text, "expected: children")
	assert.Contains(t, text, "seen:     orphans")
	assert.Contains(t, text, "GET /roll-async [dice-roller, server]")
	assert.Contains(t, text, "where:    dice-roller/batch.go, rollOne: exercise 4.1 (workshop hint 4.1)\n"+
		"                    dice-roller/batch.go, rollBatch: exercise 4.1\n")
	assert.Contains(t, text, "reread:   step 4.2 (workshop show 4 2)\n")
	assert.NotContains(t, text, "workshop show 4 4.2", "a step is never shown as a check id would be")
	// A failure's own places replace the check's; a place has its exercise
	// in this stage only (the SDK is exercise 1.1 in stage 1, given here).
	assert.Contains(t, text, "where:    dice-roller/metrics.go, newMetrics: exercise 4.4 (workshop hint 4.4)\n"+
		"                    dice-roller/batch.go, rollOne: exercise 4.4\n"+
		"                    internal/telemetry/otel.go, SetupOTelSDK\n")
	assert.Contains(t, text, "1/3 checks pass; failing: check async-children, check async-metrics.")
	assert.NotContains(t, text, "\x1b[")

	out.Reset()
	WriteReport(&out, res, true)
	assert.Contains(t, out.String(), "\x1b[31mFAIL\x1b[0m")

	out.Reset()
	require.NoError(t, WriteJSON(&out, res))
	var j JSON
	require.NoError(t, json.Unmarshal(out.Bytes(), &j))
	assert.Equal(t, JSONSchema, j.Schema)
	assert.False(t, j.OK)
	assert.Equal(t, 1, j.Passed)
	assert.Equal(t, 3, j.Total)
	assert.Equal(t, int64(3000), j.DurationMS)
	assert.Equal(t, "async-children", j.Checks[1].ID)
	assert.Equal(t, "fail", j.Checks[1].Status)
	assert.Equal(t, "orphans", j.Checks[1].Seen)
	assert.Equal(t, "4.2", j.Checks[1].Step)
	assert.Equal(t, []Place{{File: "dice-roller/batch.go", Func: "rollOne", Exercise: "4.1"}, {File: "dice-roller/batch.go", Func: "rollBatch", Exercise: "4.1"}}, j.Checks[1].Where)
	assert.Equal(t, "pass", j.Checks[0].Status)
	assert.Empty(t, j.Checks[0].Hint, "a passing check carries no hint")
	assert.Empty(t, j.Checks[0].Where, "nor places")
	// The documented field names.
	assert.Contains(t, out.String(), `"where": [`)
	assert.Contains(t, out.String(), `"function": "rollBatch"`)
	assert.Contains(t, out.String(), `"exercise": "4.1"`)
	assert.Equal(t, []string{"async-children", "async-metrics"}, res.Failing())
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
	c := Check{ID: "boom", run: func(*Observation) error { panic("boom") }}
	out := evaluate(c, &Observation{})
	assert.False(t, out.Passed)
	assert.Contains(t, out.Err, "boom")
}

// TestManifestsListTheChecksOfEachStep: a step's `checks` in lesson.toml are
// exactly the ids of the checks of its stage that point back at it.
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

// TestPlacesExist: every file and function a failing check points to exists
// in the reference stage and in the learner's starter, and the exercise it
// names writes code inside that function. Every exercise of a stage is
// named by a check, so each has a check that leads to it.
func TestPlacesExist(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	for n := 1; n <= 4; n++ {
		s, regions, err := exercise.StageRegions(root, n)
		require.NoError(t, err)
		named := map[string]bool{}
		for _, c := range Catalog(n) {
			for _, p := range c.Where {
				named[p.Exercise] = true
			}
		}
		for _, e := range s.Exercises {
			assert.True(t, named[e.ID], "stage %d: no check points to exercise %s", n, e.ID)
		}
		for _, pl := range places {
			p, ok := pl.in(n)
			if !ok {
				continue
			}
			for _, tree := range []string{repo.StageDir(root, n), repo.ExerciseDir(root, n)} {
				start, end, err := funcLines(filepath.Join(tree, filepath.FromSlash(p.File)), p.Func)
				if !assert.NoError(t, err, "stage %d: %s", n, p) || tree != repo.StageDir(root, n) || p.Exercise == "" {
					continue
				}
				inside := slices.ContainsFunc(regions, func(r exercise.Region) bool {
					return r.ID == p.Exercise && r.File == p.File && r.Line > start && r.Line < end
				})
				assert.True(t, inside, "stage %d: exercise %s writes no code in %s", n, p.Exercise, p)
			}
		}
	}
}

// funcLines finds the one function or method named name in a Go file, and
// the lines it spans.
func funcLines(path, name string) (start, end int, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == name {
			found++
			start, end = fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
		}
	}
	if found != 1 {
		return 0, 0, fmt.Errorf("%s declares %d functions named %s, want 1", path, found, name)
	}
	return start, end, nil
}

// TestASilentServiceIsTheSDKsBusiness: when a service exported no span at
// all, every span check points to the SDK setup and its step, not to the
// code it would check otherwise.
func TestASilentServiceIsTheSDKsBusiness(t *testing.T) {
	for _, n := range []int{1, 3} {
		o := &Observation{Stage: n, Services: []string{"dice-roller"}, Store: otlp.NewStore(otlp.DefaultLimits), Answers: map[string]*Answer{}}
		for _, c := range Catalog(n) {
			if c.ID != "roll-span" && c.ID != "flush" && c.ID != "server-spans" {
				continue
			}
			out := evaluate(c, o)
			require.False(t, out.Passed, c.ID)
			assert.Contains(t, out.Failure.Seen, "SetupOTelSDK", c.ID)
			assert.Equal(t, "1.1", out.StepToRead(), c.ID)
			assert.Equal(t, sdkHint, out.HintText(), c.ID)
			want := Place{File: "internal/telemetry/otel.go", Func: "SetupOTelSDK"}
			if n == 1 {
				want.Exercise = "1.1"
			}
			assert.Equal(t, []Place{want}, out.Places(), c.ID)
		}
	}
}

// TestReadmeNamesEveryCheck keeps README.md's table of checks true.
func TestReadmeNamesEveryCheck(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	for _, s := range catalog {
		assert.True(t, strings.Contains(string(readme), "| `"+s.key+"` |"), "README.md's table of checks lists %s", s.key)
	}
	assert.True(t, strings.Contains(string(readme), fmt.Sprintf(`"schema": %d`, JSONSchema)), "README.md documents the JSON schema %d", JSONSchema)
}

// A service that logs in a loop pushes the roll's lines out of the bounded
// capture: logs-trace then says so instead of blaming the logging.
func TestLogsTraceSaysWhenTheCaptureDroppedLines(t *testing.T) {
	o := &Observation{Stage: 1, Services: []string{"dice-roller"}}
	o.AddLog("dice-roller", []byte(`{"timestamp":"2026-11-29T09:00:00Z","level":"INFO","message":"roll result","trace_id":"x"}`))
	for range session.MaxLinesPerService {
		o.AddLog("dice-roller", []byte(`{"timestamp":"2026-11-29T09:00:00Z","level":"INFO","message":"again"}`))
	}
	err := checkLogsTrace(o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "none among the lines kept (1 earlier lines of the dice-roller were not kept")
}
