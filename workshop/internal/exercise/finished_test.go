package exercise

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFinished(t *testing.T) {
	r := root(t)
	out := filepath.Join(t.TempDir(), "exercises", "stage1")
	require.NoError(t, Finished(r, 1, out))

	mod, err := os.ReadFile(filepath.Join(out, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(mod), "module github.com/go-o11y-workshop/kit/exercises/stage1\n")
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "// exercise ", p)
		assert.NotContains(t, string(b), "// TODO (exercise", p)
		assert.NotContains(t, string(b), "kit/stages/stage1", p)
		return nil
	})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(out, "dice-roller", "handlers_test.go"), "the learner's module keeps the stage's tests")
	assert.NoDirExists(t, filepath.Join(out, "lesson"))
	// catchup swaps a learner's folder for this one: the starter's README
	// (where each exercise is, how to test it) is not lost on the way.
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	require.NoError(t, err, "the finished module has the starter's README")
	starter, err := os.ReadFile(filepath.Join(r, "exercises", "stage1", "README.md"))
	require.NoError(t, err)
	assert.Equal(t, string(starter), string(readme))

	assert.Error(t, Finished(r, 1, out), "a folder that is not empty is refused")
	if testing.Short() {
		t.Skip("the build is covered by the CLI's TestCatchup")
	}
	cmd := exec.CommandContext(t.Context(), "go", "build", "./...")
	cmd.Dir = out
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build in the finished stage 1:\n%s", b)
}
