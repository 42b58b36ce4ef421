package class

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestTheMostCommonFailureNow(t *testing.T) {
	clk := newClock()
	tc := startClass(t, Options{Now: clk.Now, Exercises: map[string]bool{"4.3": true}})
	post := func(name string, res []byte) {
		t.Helper()
		require.Equal(t, http.StatusOK, tc.post(t, tc.join(t, name).Token, res, 0).status)
	}
	// An hour ago, three learners failed flush; that is not "now".
	for _, n := range []string{"Old 1", "Old 2", "Old 3"} {
		post(n, result(4, "api@4.1", "!flush@4.1"))
	}
	clk.add(time.Hour)
	// Now: the first failing check in step order counts, one per learner.
	post("Ada", result(4, "api@4.1", "!async-children@4.2", "!async-span@4.3"))
	post("Bob", result(4, "api@4.1", "!async-span@4.3", "!async-children@4.2")) // reported out of step order
	post("Cy", result(4, "api@4.1", "async-children@4.2", "!async-span@4.3"))
	post("Di", result(4, "api@4.1", "async-children@4.2", "async-span@4.3"))
	post("Ed", result(3, "!api@3.2"))
	tc.join(t, "Fay") // no check yet

	b := tc.board("name", "")
	require.NotEmpty(t, b.Failures)
	assert.Equal(t, FailureCount{Key: "async-children", Title: "Title of async-children", Step: "4.2", Count: 2}, b.Failures[0])
	assert.Equal(t, []string{"async-children", "api", "async-span"}, keys(b.Failures), "ties: the earlier step first")
	assert.Equal(t, 9, b.Learners)
	// Now, the room is mostly on step 4.2 (Ada, Bob; the three who
	// stopped an hour ago on 4.1 do not count); Cy and Di have it green.
	require.NotNil(t, b.Headline)
	assert.Equal(t, Headline{Stage: 4, Step: "4.2", Kind: "step", Green: 2, Of: 9, Ref: "4.2"}, *b.Headline)
	assert.Equal(t, "exercise", tc.board("name", "4.3").Headline.Kind, "the instructor asks for step 4.3, an exercise")
	assert.Equal(t, 1, tc.board("name", "4.3").Headline.Green)
	assert.Equal(t, []StageTotal{{1, 0, 0}, {2, 0, 0}, {3, 0, 1}, {4, 1, 7}}, b.StageTotals)

	page := tc.get(t, "/").body
	assert.Contains(t, page, "<strong>2 of 9</strong> have step 4.2 green; the most common failure now: <strong>check async-children</strong> (2)")
	assert.Contains(t, tc.get(t, "/?step=4.3").body, "<strong>1 of 9</strong> have exercise 4.3 green")
	assert.Contains(t, page, `title="check async-children fails: Title of async-children (step 4.2)`)
}

func keys(fs []FailureCount) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

func TestTimeOnTheCurrentStep(t *testing.T) {
	clk := newClock()
	tc := startClass(t, Options{Now: clk.Now})
	sam := tc.join(t, "Sam")
	row := func() Row {
		t.Helper()
		rows := tc.board("name", "").Rows
		require.Len(t, rows, 1)
		return rows[0]
	}
	post := func(res []byte, age time.Duration) {
		t.Helper()
		require.Equal(t, http.StatusOK, tc.post(t, sam.Token, res, age).status)
	}
	assert.Equal(t, "no check yet", row().Position)

	clk.add(3 * time.Minute)
	post(result(4, "api@4.1", "!async-children@4.2"), 0)
	clk.add(4 * time.Minute)
	post(result(4, "api@4.1", "!async-children@4.2"), 0) // still stuck there
	clk.add(5 * time.Minute)
	assert.Equal(t, "step 4.2", row().Position)
	assert.Equal(t, 9*time.Minute, row().OnStep, "since the first result on step 4.2")
	assert.True(t, row().Stuck)

	// A build failure says nothing of the step: the clock runs on.
	post([]byte(`{"schema":3,"stage":4,"setup_error":"dice-roller does not build:\nbatch.go:12: undefined: g"}`), 0)
	clk.add(time.Minute)
	assert.Equal(t, "step 4.2, and now the stage does not build or start", row().Position)
	assert.Equal(t, 10*time.Minute, row().OnStep)
	assert.Equal(t, "build", row().Cells[3].State)
	assert.Contains(t, row().Cells[3].Title, "dice-roller does not build:")

	// The step moves on: its clock starts at that check (run 30 s ago).
	post(result(4, "api@4.1", "async-children@4.2", "!async-span@4.3"), 30*time.Second)
	clk.add(2 * time.Minute)
	assert.Equal(t, "step 4.3", row().Position)
	assert.Equal(t, 2*time.Minute+30*time.Second, row().OnStep)

	post(result(4, "api@4.1", "async-children@4.2", "async-span@4.3"), 0)
	clk.add(time.Minute)
	assert.Equal(t, "stage 4 done", row().Position)
	assert.False(t, row().Stuck)
	assert.Equal(t, "3/3", row().Cells[3].Text)
	assert.Contains(t, tc.get(t, "/").body, "<td class=\"num\">1 min</td>")
}

func TestRowsSort(t *testing.T) {
	rows := []Row{
		{ID: "c", Name: "cy", Stuck: true, OnStep: time.Minute, order: []int{4, 2}},
		{ID: "a", Name: "Ada", Stuck: false, order: []int{4, 1 << 20}},
		{ID: "b", Name: "bob", Stuck: true, OnStep: time.Hour, order: []int{3, 4}},
		{ID: "d", Name: "Di"},
	}
	ids := func() string {
		var s []string
		for _, r := range rows {
			s = append(s, r.ID)
		}
		return strings.Join(s, "")
	}
	sortRows(rows, "name")
	assert.Equal(t, "abcd", ids())
	sortRows(rows, "stuck")
	assert.Equal(t, "bcad", ids())
	sortRows(rows, "progress")
	assert.Equal(t, "acbd", ids())
}

func TestCompareSteps(t *testing.T) {
	assert.Negative(t, compareSteps("4.2", "4.10"))
	assert.Negative(t, compareSteps("3.9", "4.1"))
	assert.Zero(t, compareSteps("4.2", "4.2"))
	assert.Negative(t, compareSteps("4.2", "x"))
	assert.Positive(t, compareSteps("4.2.1", "4.2"))
	assert.Equal(t, "12 min", formatAgo(12*time.Minute+30*time.Second))
	assert.Equal(t, "1 h 05 min", formatAgo(65*time.Minute))
	assert.Equal(t, "40 s", formatAgo(40*time.Second))
}

// TestTheReportIsTheOneCheckPrinted renders a posted result back into the
// report card and compares it with what `workshop check` printed.
func TestTheReportIsTheOneCheckPrinted(t *testing.T) {
	catalog := check.Catalog(4)
	res := &check.Result{Stage: 4, Dir: "exercises/stage4", Runtime: "docker", Duration: 11500 * time.Millisecond}
	for i, c := range catalog {
		o := check.Outcome{Check: c, Passed: i%4 != 1}
		if !o.Passed {
			o.Failure = &check.Failure{Expected: "five children", Seen: "orphans", Trace: "GET /roll-async\n  async_roll_1"}
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	builds := &check.Result{Stage: 2, Dir: "exercises/stage2", Runtime: "local", Duration: time.Second,
		Setup: &stage.BuildError{Service: "frontend", Output: "main.go:3: undefined: x\nmain.go:4: undefined: y"}}
	starts := &check.Result{Stage: 1, Dir: "exercises/stage1", Runtime: "local", Setup: errors.New("the dice-roller exited: port 8100 in use")}
	// A stage that hangs: one failure says so, the checks that need an
	// answer are skipped (schema 3).
	hangs := &check.Result{Stage: 3, Dir: "exercises/stage3", Runtime: "local", Duration: 17 * time.Second}
	for i, c := range check.Catalog(3) {
		o := check.Outcome{Check: c, Skipped: i > 0 && c.ID != "logs-json", Passed: c.ID == "logs-json"}
		switch {
		case i == 0:
			o.Failure = &check.Failure{Expected: "the dice-roller to answer GET /roll?die=fair", Seen: "no answer after 15s"}
		case o.Skipped:
			o.Err = "skipped: the stage did not answer the checks' requests (check api says why)"
		}
		hangs.Outcomes = append(hangs.Outcomes, o)
	}

	for _, r := range []*check.Result{res, builds, starts, hangs} {
		var printed, js strings.Builder
		check.WriteReport(&printed, r, false)
		require.NoError(t, check.WriteJSON(&js, r))
		decoded, err := DecodeResult([]byte(js.String()))
		require.NoError(t, err)
		assert.Equal(t, printed.String(), Report(decoded))
	}
}
