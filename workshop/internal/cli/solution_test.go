package cli

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/state"
)

func solutionRepo(t *testing.T) string {
	t.Helper()
	root := fixtureRepo(t)
	writeFile(t, filepath.Join(root, "solutions", "stage4", "4.1.md"), "# Exercise 4.1: Do the thing\n\nThe SECRET answer.\n")
	return root
}

func TestSolutionAsksBeforeTheCheckPasses(t *testing.T) {
	root := solutionRepo(t)
	for _, answer := range []string{"n\n", "", "no\n"} {
		code, stdout, stderr := runWithInput(t, root, answer, "solution", "4.1")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "You have not passed stage 4's check yet. Show the solution anyway? [y/N]")
		assert.Empty(t, stdout)
		assert.NotContains(t, stderr, "SECRET")
	}
	code, stdout, _ := run(t, root, "solution", "4.1") // no input at all
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)

	code, stdout, stderr := runWithInput(t, root, "y\n", "solution", "4.1")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "SECRET")
}

func TestSolutionYes(t *testing.T) {
	root := solutionRepo(t)
	code, stdout, stderr := run(t, root, "solution", "4.1", "--yes", "--style", "ascii")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "SECRET")
	assert.NotContains(t, stderr, "[y/N]")
}

func TestSolutionAfterAPassingCheck(t *testing.T) {
	root := solutionRepo(t)
	st, err := state.Load(root)
	require.NoError(t, err)
	st.Checks["4"] = state.CheckResult{Dir: "exercises/stage4", Passed: 2, Total: 3, At: time.Now().UTC()}
	require.NoError(t, st.Save(root))
	code, stdout, stderr := run(t, root, "solution", "4.1")
	assert.Equal(t, 1, code, "a failing check still asks")
	assert.Contains(t, stderr, "[y/N]")
	assert.Empty(t, stdout)

	st.Checks["4"] = state.CheckResult{Dir: "exercises/stage4", Passed: 3, Total: 3, At: time.Now().UTC()}
	require.NoError(t, st.Save(root))
	code, stdout, stderr = run(t, root, "solution", "4.1")
	assert.Equal(t, 0, code, stderr)
	assert.NotContains(t, stderr, "[y/N]")
	assert.Contains(t, stdout, "SECRET")

	code, _, stderr = run(t, root, "solution", "3.1", "--yes")
	assert.Equal(t, 1, code, "stage 3's page does not exist")
	assert.Contains(t, stderr, "workshop gen")
}

func TestSolutionBadArguments(t *testing.T) {
	root := solutionRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"solution"}, "solution needs one exercise id"},
		{[]string{"solution", "4"}, `"4" is not an exercise id`},
		{[]string{"solution", "4.9"}, "no exercise 4.9; stage 4's exercises are 4.1"},
		{[]string{"solution", "9.1"}, "no stage 9"},
		{[]string{"solution", "4.1", "--style", "neon"}, `unknown style "neon"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := run(t, root, tt.args...)
		assert.Equal(t, 2, code, tt.args)
		assert.Contains(t, stderr, tt.wantErr, tt.args)
		assert.Empty(t, stdout)
	}
}
