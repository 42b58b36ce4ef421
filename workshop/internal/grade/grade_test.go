package grade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
)

// checkout makes a learner's folder with exercises/stageN for each n.
func checkout(t *testing.T, parent, name string, stages ...int) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	for _, n := range stages {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "exercises", "stage"+strconv.Itoa(n)), 0o755))
	}
	return dir
}

// TestGatherChecksWhatEachLearnerHas: a stand-in check (no build, no
// process) shows which stages run, how results and failures become columns,
// and that no more than Parallel checks run at once.
func TestGatherChecksWhatEachLearnerHas(t *testing.T) {
	class := t.TempDir()
	ada := checkout(t, class, "ada", 1, 2)
	bob := checkout(t, class, "bob", 1)
	cy := checkout(t, class, "cy", 2)

	var running, most atomic.Int32
	fake := func(ctx context.Context, o check.Options) (*check.Result, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		switch filepath.Base(filepath.Dir(filepath.Dir(o.Dir))) + "/" + strconv.Itoa(o.Stage) {
		case "bob/1":
			return &check.Result{Stage: 1, Setup: errors.New("dice-roller does not build:\n./roll.go:3: undefined: x")}, nil
		case "cy/2":
			return nil, errors.New("no Docker engine answers")
		}
		res := &check.Result{Stage: o.Stage}
		for i, c := range check.Catalog(o.Stage) {
			res.Outcomes = append(res.Outcomes, check.Outcome{Check: c, Passed: i > 0})
		}
		return res, nil
	}
	rows := Gather(t.Context(), []string{ada, bob, cy + "/"}, Options{Stages: []int{1, 2, 3}, Parallel: 2, Check: fake})

	require.Len(t, rows, 3)
	assert.Equal(t, []string{"ada", "bob", "cy"}, []string{rows[0].Learner, rows[1].Learner, rows[2].Learner}, "in the order given")
	n1, n2 := len(check.Catalog(1)), len(check.Catalog(2))
	assert.Equal(t, map[string]Col{"1": {Passed: n1 - 1, Total: n1, Failing: []string{"api"}}, "2": {Passed: n2 - 1, Total: n2, Failing: []string{"api"}}}, rows[0].Stages,
		"the ids of the failing checks are kept")
	assert.Equal(t, map[string]Col{"1": {Total: n1, Error: "dice-roller does not build:"}}, rows[1].Stages,
		"a build failure counts every check as failed, with its first line")
	assert.Equal(t, map[string]Col{"2": {Error: "no Docker engine answers"}}, rows[2].Stages)
	assert.LessOrEqual(t, most.Load(), int32(2), "at most Parallel checks at once")
	assert.Equal(t, int32(2), most.Load(), "and Parallel of them do run at once")
}

var rows = []Row{
	{Learner: "ada", Dir: "class/ada", Stages: map[string]Col{"1": {Passed: 9, Total: 9}, "2": {Passed: 10, Total: 12, Failing: []string{"frontend-trace", "frontend-span"}}}},
	{Learner: "bob", Dir: "class/bob", Stages: map[string]Col{"1": {Total: 9, Error: "dice-roller does not build:"}}},
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	WriteTable(&b, rows, []int{1, 2})
	assert.Equal(t, ""+
		"learner               stage 1  stage 2\n"+
		"ada                       9/9    10/12\n"+
		"    stage 2 fails: check frontend-trace, check frontend-span\n"+
		"bob                       0/9        -\n"+
		"    stage 1: dice-roller does not build:\n", b.String())
}

// TestGatherMarksWhatDidNotFinish: a learner whose check hangs (it returns
// only when its context ends, as check.Run does) is cut at the timeout and
// marked unfinished while the others are graded; when grading is
// interrupted, what finished keeps its result and the rest is marked
// unfinished, started or not.
func TestGatherMarksWhatDidNotFinish(t *testing.T) {
	class := t.TempDir()
	ada := checkout(t, class, "ada", 1)
	hang := checkout(t, class, "hang", 1)
	cy := checkout(t, class, "cy", 1)
	n1 := len(check.Catalog(1))
	fake := func(ctx context.Context, o check.Options) (*check.Result, error) {
		if filepath.Base(filepath.Dir(filepath.Dir(o.Dir))) == "hang" {
			<-ctx.Done()
			return &check.Result{Stage: 1, Runtime: "docker"}, ctx.Err()
		}
		res := &check.Result{Stage: 1, Runtime: "docker"}
		for _, c := range check.Catalog(1) {
			res.Outcomes = append(res.Outcomes, check.Outcome{Check: c, Passed: true})
		}
		return res, nil
	}
	rows := Gather(t.Context(), []string{ada, hang, cy}, Options{Stages: []int{1}, Parallel: 1, Runtime: "docker",
		Timeout: 50 * time.Millisecond, Check: fake})
	require.Len(t, rows, 3)
	assert.Equal(t, Col{Passed: n1, Total: n1, Runtime: "docker"}, rows[0].Stages["1"])
	assert.Equal(t, Col{Unfinished: true, Error: "unfinished: still running after 50ms (--timeout)", Runtime: "docker"}, rows[1].Stages["1"])
	assert.Equal(t, Col{Passed: n1, Total: n1, Runtime: "docker"}, rows[2].Stages["1"], "the learner after the hanging one is graded")

	ctx, cancel := context.WithCancel(t.Context())
	interrupting := func(ctx context.Context, _ check.Options) (*check.Result, error) {
		cancel() // Ctrl-C while the first learner is checked
		<-ctx.Done()
		return nil, ctx.Err()
	}
	rows = Gather(ctx, []string{ada, hang, cy}, Options{Stages: []int{1}, Parallel: 1, Runtime: "docker", Check: interrupting})
	require.Len(t, rows, 3)
	var notes []string
	for _, r := range rows {
		assert.True(t, r.Stages["1"].Unfinished, "%s: %+v", r.Learner, r.Stages["1"])
		notes = append(notes, r.Stages["1"].Error)
	}
	assert.ElementsMatch(t, []string{"unfinished: grading was interrupted",
		"unfinished: not started, grading was interrupted", "unfinished: not started, grading was interrupted"}, notes)

	var b bytes.Buffer
	rows[0].Stages["1"] = Col{Passed: n1, Total: n1, Runtime: "docker"}
	rows[1].Stages["1"] = Col{Unfinished: true, Error: "unfinished: grading was interrupted", Runtime: "docker"}
	WriteTable(&b, rows[:2], []int{1})
	assert.Equal(t, fmt.Sprintf(""+
		"runtime: docker\n"+
		"learner               stage 1\n"+
		"ada                       %d/%d\n"+
		"hang                  unfinished\n"+
		"    stage 1: unfinished: grading was interrupted\n", n1, n1), b.String())
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, rows, []int{1, 2}))
	assert.Equal(t, "learner,stage1_passed,stage1_total,stage1_failing,stage1_note,stage2_passed,stage2_total,stage2_failing,stage2_note\n"+
		"ada,9,9,,,10,12,frontend-trace frontend-span,\n"+
		"bob,0,9,,dice-roller does not build:,0,0,,\n", b.String())
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, rows[1:]))
	assert.JSONEq(t, `[{"learner":"bob","dir":"class/bob","stages":{"1":{"passed":0,"total":9,"error":"dice-roller does not build:"}}}]`, b.String())
}
