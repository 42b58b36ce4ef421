package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/state"
)

func TestCheckUsageErrors(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"check"}, 2, "check needs a stage"},
		{[]string{"check", "7"}, 2, "no stage 7; stages are 1–4"},
		{[]string{"check", "4", "--runtime", "podman"}, 2, `unknown runtime "podman"; valid: docker, local, auto`},
		{[]string{"check", "4", "lesson"}, 2, "lesson is not a stage module (no go.mod there)"},
		{[]string{"check", "4", "--watch", "--json"}, 2, "--watch draws report cards for people; it does not print JSON"},
		{[]string{"check", "4"}, 1, "no exercise for stage 4 at " + filepath.Join(root, "exercises", "stage4") + " yet; check the reference with: workshop check 4 stages/stage4"},
		{[]string{"grade"}, 2, "grade needs at least one learner checkout"},
		{[]string{"grade", "x", "--csv", "--json"}, 2, "choose one of --csv and --json"},
		{[]string{"grade", "x", "--stage", "9"}, 2, "no stage 9"},
		{[]string{"grade", "x", "--parallel", "0"}, 2, "--parallel must be at least 1"},
		{[]string{"grade", "x", "--runtime", "auto"}, 2, "grade does not choose its runtime"},
		{[]string{"grade", "x", "--timeout", "0s"}, 2, "--timeout must be positive"},
		{[]string{"grade", "--help"}, 0, "--runtime local runs each service as you"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, root, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
}

func realRoot(t *testing.T) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return root
}

// learner makes a learner checkout whose exercises/stage1 is the reference
// stage 1, broken by b when b is not nil.
func learner(t *testing.T, parent, name string, b *breaks.Break) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	src := repo.StageDir(realRoot(t), 1)
	dst := repo.ExerciseDir(dir, 1)
	if b != nil {
		require.NoError(t, breaks.Apply(src, dst, *b, 1))
	} else {
		require.NoError(t, files.CopyModule(src, dst, false))
	}
	return dir
}

// TestCheckRunsTheStageAndRemembersTheResult checks a learner's stage 1 (a
// copy of the reference) with local processes: it passes, exits 0, and
// `workshop list` shows it.
func TestCheckRunsTheStageAndRemembersTheResult(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	root := fixtureRepo(t)
	require.NoError(t, files.CopyModule(repo.StageDir(realRoot(t), 1), repo.ExerciseDir(root, 1), false))

	code, out, stderr := run(t, root, "check", "1", "--runtime", "local")
	require.Equal(t, 0, code, stderr+out)
	assert.Contains(t, out, "PASS  check api ")
	assert.Contains(t, out, "checks pass: stage 1 is done.")

	code, out, _ = run(t, root, "check", "1", "--runtime", "local", "--json")
	require.Equal(t, 0, code)
	var res struct {
		Schema int
		OK     bool
		Checks []struct{ ID, Status string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.True(t, res.OK)
	assert.Equal(t, check.JSONSchema, res.Schema)
	assert.Equal(t, "api", res.Checks[0].ID)

	_, out, _ = run(t, root, "list")
	assert.Regexp(t, `Stage 1 .*\[passes: \d+/\d+ checks,`, out)

	// A failing check is remembered by its id, and `workshop list` names it.
	brk, err := breaks.Find("no-flush")
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(repo.ExerciseDir(root, 1)))
	require.NoError(t, breaks.Apply(repo.StageDir(realRoot(t), 1), repo.ExerciseDir(root, 1), brk, 1))
	code, out, _ = run(t, root, "check", "1", "--runtime", "local")
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL  check flush ")
	assert.Contains(t, out, "where:    internal/telemetry/otel.go, SetupOTelSDK: exercise 1.1 (workshop hint 1.1)")
	assert.Contains(t, out, "reread:   step 1.1 (workshop show 1 1)")
	st, err := state.Load(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"flush"}, st.Checks["1"].Failing)
	_, out, _ = run(t, root, "list")
	assert.Contains(t, out, "failing: check flush (step 1.1)")
}

// TestGradeRefusesToFallBackToLocal: without a Docker engine, grade does
// not run learners' code as the instructor unless told to.
func TestGradeRefusesToFallBackToLocal(t *testing.T) {
	detectEngine = func(context.Context) (runtime.Engine, error) {
		return runtime.Engine{}, errors.New("no Docker engine answers (test)")
	}
	t.Cleanup(func() { detectEngine = runtime.DetectEngine })
	class := t.TempDir()
	ada := learner(t, class, "ada", nil)
	code, out, stderr := run(t, class, "grade", ada, "--stage", "1")
	assert.Equal(t, 1, code)
	assert.Empty(t, out, "nothing was graded")
	assert.Contains(t, stderr, "grade runs each learner's code in containers, and no Docker engine answers")
	assert.Contains(t, stderr, "use --runtime local")
}

// TestGradeTablesAClass grades two learners: one with the reference, one
// whose logs lost their trace ids.
func TestGradeTablesAClass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1 twice")
	}
	class := t.TempDir()
	brk, err := breaks.Find("no-trace-id-in-logs")
	require.NoError(t, err)
	good := learner(t, class, "ada", nil)
	bad := learner(t, class, "bob", &brk)

	code, out, stderr := run(t, class, "grade", good, bad, "--stage", "1", "--runtime", "local", "--csv")
	require.Equal(t, 0, code, stderr)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"learner", "stage1_passed", "stage1_total", "stage1_failing", "stage1_note"}, rows[0])
	assert.Equal(t, "ada", rows[1][0])
	assert.Equal(t, rows[1][2], rows[1][1], "the reference passes every check")
	assert.Empty(t, rows[1][3])
	assert.Equal(t, "bob", rows[2][0])
	assert.NotEqual(t, rows[2][2], rows[2][1], "the broken copy fails a check")
	assert.Equal(t, "logs-trace", rows[2][3], "named by its id")

	code, out, stderr = run(t, class, "grade", good, bad, "--stage", "1", "--runtime", "local")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "    stage 1 fails: check logs-trace\n")
	assert.True(t, strings.HasPrefix(out, "runtime: local\n"), out)
	assert.Contains(t, stderr, "warning: --runtime local runs each learner's code as you")

	code, out, stderr = run(t, class, "grade", bad, "--stage", "1", "--runtime", "local", "--json")
	require.Equal(t, 0, code, stderr)
	var rowsJSON []struct {
		Learner string
		Stages  map[string]struct {
			Passed, Total int
			Failing       []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rowsJSON))
	assert.Equal(t, []string{"logs-trace"}, rowsJSON[0].Stages["1"].Failing)
}
