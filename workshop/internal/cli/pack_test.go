package cli

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestPackUsage(t *testing.T) {
	root := fixtureRepo(t)
	for _, args := range [][]string{{"pack"}, {"pack", "9"}, {"pack", "1", "a", "b"}} {
		code, _, stderr := run(t, root, args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
	}
}

// TestPackWritesWhatComposeBuildsFrom: `workshop pack 1` (what make
// stage1-docker runs) writes the build context of stage 1's compose file:
// the binaries for linux, the probe, the one Dockerfile and a .dockerignore
// that sends nothing else to the engine.
func TestPackWritesWhatComposeBuildsFrom(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stage 1 and the probe")
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, realRoot(t), "pack", "1", "--arch", goruntime.GOARCH, "--out", out)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "stage 1: the services, the probe (linux/"+goruntime.GOARCH+") and the Dockerfile are in "+out)

	dockerfile, err := os.ReadFile(filepath.Join(out, "Dockerfile"))
	require.NoError(t, err)
	assert.Equal(t, stage.Dockerfile(), string(dockerfile))
	assert.Contains(t, string(dockerfile), "USER 65534:65534", "the services run unprivileged")
	for _, f := range []string{"dice-roller", "probe"} {
		fi, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
		assert.NotZero(t, fi.Mode()&0o111, "%s is executable", f)
	}
	ignore, err := os.ReadFile(filepath.Join(out, ".dockerignore"))
	require.NoError(t, err)
	assert.Equal(t, []string{"*", "!Dockerfile", "!probe", "!dice-roller"}, strings.Fields(string(ignore)))
}
