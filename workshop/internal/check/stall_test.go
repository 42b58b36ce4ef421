package check

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
)

// TestAStalledStageIsReportedOnce: on a canned run whose first request got
// no answer, the first check that needs the traffic says so, with the
// request and the hint about hangs; the others that need it are skipped,
// and the ones that read the startup only are still evaluated.
func TestAStalledStageIsReportedOnce(t *testing.T) {
	for n := 1; n <= 4; n++ {
		o := canned(n).observation()
		a := o.Answers["roll"]
		a.Status, a.Body, a.Done = 0, nil, a.Sent.Add(15*time.Second)
		a.Err = errors.New(`Get "http://127.0.0.1:1/roll?die=fair": context deadline exceeded`)
		o.Stalled = a
		res := &Result{Stage: n, Outcomes: evaluateAll(Catalog(n), o)}

		require.Equal(t, []string{"api"}, res.Failing(), "stage %d", n)
		api := res.Outcomes[0]
		assert.Equal(t, "the dice-roller to answer GET /roll?die=fair", api.Failure.Expected)
		assert.Contains(t, api.Failure.Seen, "no answer after 15s, though it answers /healthz")
		assert.Equal(t, stalledHint, api.HintText())
		assert.Equal(t, []Place{{File: "dice-roller/handlers.go", Func: "routes"}}, api.Places())
		for _, out := range res.Outcomes[1:] {
			if out.ID == "logs-json" {
				assert.True(t, out.Passed, "logs-json reads the startup lines: evaluated")
				continue
			}
			assert.True(t, out.Skipped, "stage %d: check %s is skipped", n, out.ID)
			assert.False(t, out.Passed)
			assert.Contains(t, out.Err, "check api says why")
		}
		assert.Equal(t, len(Catalog(n))-2, res.Skipped())

		var text bytes.Buffer
		WriteReport(&text, res, false)
		assert.Contains(t, text.String(), "  SKIP  check roll-span ")
		assert.Equal(t, 1, strings.Count(text.String(), "hangs on its requests"), "the cause is said once")
		assert.Contains(t, text.String(), "skipped: they need the stage to answer.")
		j := res.ToJSON()
		assert.Equal(t, "skip", j.Checks[2].Status)
		assert.Contains(t, j.Checks[2].Seen, "skipped")
		assert.Empty(t, j.Checks[2].Hint)
	}
}

// TestAHangingStageCostsOneBudget runs a stage that answers /healthz and
// hangs every other request (testdata/hanging-routes.go.txt). Before the
// probe budget every request waited for its own timeout and all but one
// check failed, blaming the instrumentation; now the first request that
// hangs stops the traffic, is reported once, and the rest is skipped.
func TestAHangingStageCostsOneBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	hang, err := os.ReadFile(filepath.Join("testdata", "hanging-routes.go.txt"))
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "stage1")
	b := breaks.Break{Name: "hanging", Stages: []int{1}, Edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: "\tr := chi.NewRouter()\n", New: string(hang)}}}
	require.NoError(t, breaks.Apply(referenceDir(t, 1), dir, b, 1))

	res, err := Run(t.Context(), Options{Stage: 1, Dir: dir, Runtime: "local", ProbeBudget: 3 * time.Second})
	require.NoError(t, err)
	require.NoError(t, res.Setup)
	var report bytes.Buffer
	WriteReport(&report, res, false)
	t.Log(report.String())

	assert.Equal(t, []string{"api"}, res.Failing(), "one failure says the stage hangs")
	assert.Contains(t, res.Outcomes[0].Failure.Seen, "though it answers /healthz")
	assert.Equal(t, len(Catalog(1))-2, res.Skipped(), "every check that needs an answer is skipped")
}
