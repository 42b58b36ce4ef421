package cli

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
)

// tree reads every file under dir, by slash path.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = readFile(t, p)
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestCatchup(t *testing.T) {
	root := realRepoCopy(t)
	stage1 := filepath.Join(root, "exercises", "stage1")
	stage2 := filepath.Join(root, "exercises", "stage2")
	writeFile(t, filepath.Join(stage1, "notes.txt"), "my notes\n")
	writeFile(t, filepath.Join(stage2, "notes.txt"), "stage 2 notes\n")
	before2 := tree(t, stage2)
	mine1 := tree(t, stage1)

	code, stdout, stderr := runWithInput(t, root, "y\n", "catchup", "2")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "Replace exercises/stage1 with the finished code, to join at stage 2? Your version is backed up first. [y/N]")

	want := filepath.Join(t.TempDir(), "stage1")
	require.NoError(t, exercise.Finished(root, 1, want))
	assert.Equal(t, tree(t, want), tree(t, stage1), "exercises/stage1 is the finished code")
	assert.Equal(t, before2, tree(t, stage2), "the stage joined at is untouched")

	bs := backups(t, root)
	require.Len(t, bs, 1)
	assert.Contains(t, stdout, bs[0])
	assert.Equal(t, mine1, tree(t, filepath.Join(bs[0], "exercises", "stage1")), "the whole of the learner's stage 1 is backed up")
	_, err := os.Stat(filepath.Join(bs[0], "exercises", "stage2"))
	assert.True(t, os.IsNotExist(err))

	cmd := exec.CommandContext(t.Context(), "go", "build", "./...")
	cmd.Dir = stage1
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build in the caught-up exercises/stage1:\n%s", out)
}

func TestCatchupAnsweredNoChangesNothing(t *testing.T) {
	root := realRepoCopy(t)
	stage1 := filepath.Join(root, "exercises", "stage1")
	writeFile(t, filepath.Join(stage1, "notes.txt"), "my notes\n")
	before := tree(t, stage1)
	code, stdout, stderr := runWithInput(t, root, "n\n", "catchup", "3")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "exercises/stage1 to exercises/stage2")
	assert.Contains(t, stderr, "Nothing changed.")
	assert.Empty(t, stdout)
	assert.Equal(t, before, tree(t, stage1))
	assert.Empty(t, backups(t, root))
}

func TestCatchupBadArguments(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"catchup"}, "catchup needs the stage you join at"},
		{[]string{"catchup", "1"}, "nothing before stage 1"},
		{[]string{"catchup", "9"}, "no stage 9; stages are 1–4"},
		{[]string{"catchup", "2", "3"}, "catchup needs the stage you join at"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, root, tt.args...)
		assert.Equal(t, 2, code, tt.args)
		assert.Contains(t, stderr, tt.wantErr, tt.args)
	}
}
