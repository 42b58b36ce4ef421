package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
)

// exerciseFiles is the first file exercise id of stage n lists, and another
// file of that stage's exercise module that the exercise does not list.
func exerciseFiles(t *testing.T, root string, n int, id string) (listed, other string) {
	t.Helper()
	s, err := lesson.Load(root, n)
	require.NoError(t, err)
	ex, err := s.Exercise(id)
	require.NoError(t, err)
	dir := filepath.Join(root, "exercises", fmt.Sprintf("stage%d", n))
	listed = filepath.Join(dir, filepath.FromSlash(ex.Files[0]))
	other = filepath.Join(dir, "go.mod")
	return listed, other
}

func TestResetExercise(t *testing.T) {
	root := realRepoCopy(t)
	listed, other := exerciseFiles(t, root, 1, "1.1")
	starter, starterOther := readFile(t, listed), readFile(t, other)
	writeFile(t, listed, "package main // mine\n")
	writeFile(t, other, starterOther+"// mine too\n")

	code, stdout, stderr := runWithInput(t, root, "y\n", "reset", "1", "1.1")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "Reset exercise 1.1")
	assert.Contains(t, stderr, "Your version is backed up first. [y/N]")
	assert.Equal(t, starter, readFile(t, listed), "the exercise's file is back at the start")
	assert.Equal(t, starterOther+"// mine too\n", readFile(t, other), "files the exercise does not list are left alone")

	bs := backups(t, root)
	require.Len(t, bs, 1)
	assert.Contains(t, stdout, bs[0])
	rel, err := filepath.Rel(root, listed)
	require.NoError(t, err)
	assert.Equal(t, "package main // mine\n", readFile(t, filepath.Join(bs[0], rel)))
	_, err = os.Stat(filepath.Join(bs[0], "exercises", "stage1", "go.mod"))
	assert.True(t, os.IsNotExist(err), "only the affected files are backed up")
}

func TestResetStageWithYes(t *testing.T) {
	root := realRepoCopy(t)
	listed, _ := exerciseFiles(t, root, 1, "1.1")
	starter := readFile(t, listed)
	writeFile(t, listed, "package main // mine\n")
	extra := filepath.Join(root, "exercises", "stage1", "notes.txt")
	writeFile(t, extra, "my notes\n")
	stage2 := filepath.Join(root, "exercises", "stage2", "go.mod")
	stage2Mod := readFile(t, stage2) + "// mine\n"
	writeFile(t, stage2, stage2Mod)

	code, _, stderr := run(t, root, "reset", "1", "--yes")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stderr, "[y/N]")
	assert.Equal(t, starter, readFile(t, listed))
	_, err := os.Stat(extra)
	assert.True(t, os.IsNotExist(err), "the stage is exactly the starting point again")
	assert.Equal(t, stage2Mod, readFile(t, stage2), "other stages are left alone")

	bs := backups(t, root)
	require.Len(t, bs, 1)
	assert.Equal(t, "my notes\n", readFile(t, filepath.Join(bs[0], "exercises", "stage1", "notes.txt")))
	rel, err := filepath.Rel(root, listed)
	require.NoError(t, err)
	assert.Equal(t, "package main // mine\n", readFile(t, filepath.Join(bs[0], rel)))
}

func TestResetAnsweredNoChangesNothing(t *testing.T) {
	root := realRepoCopy(t)
	listed, _ := exerciseFiles(t, root, 1, "1.1")
	writeFile(t, listed, "package main // mine\n")
	for _, answer := range []string{"n\n", "", "maybe\n"} {
		code, stdout, stderr := runWithInput(t, root, answer, "reset", "1")
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "Nothing changed.")
	}
	code, _, _ := run(t, root, "reset", "1") // no input at all
	assert.Equal(t, 1, code)
	assert.Equal(t, "package main // mine\n", readFile(t, listed))
	assert.Empty(t, backups(t, root))
}

func TestResetBadArguments(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"reset"}, "reset needs a stage"},
		{[]string{"reset", "9"}, "no stage 9; stages are 1–4"},
		{[]string{"reset", "4", "4.9"}, "no exercise 4.9; stage 4's exercises are 4.1"},
		{[]string{"reset", "4", "3.1"}, "no exercise 3.1; stage 4's exercises are 4.1"},
		{[]string{"reset", "4.9"}, "no exercise 4.9; stage 4's exercises are 4.1"},
		{[]string{"reset", "4", "4.1", "x"}, "reset needs a stage"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, root, tt.args...)
		assert.Equal(t, 2, code, tt.args)
		assert.Contains(t, stderr, tt.wantErr, tt.args)
	}
	assert.Empty(t, backups(t, root))
}
