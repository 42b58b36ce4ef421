package stack

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMakeStackWithoutImages: `make stack` on a machine that lacks pinned
// images says in one line which ones and what to do (make stack-pull), and
// creates nothing: no network, no volume, no container. It runs the real
// compose file when a pinned image is missing here (no test ever starts the
// real stack), and always a fixture whose image no machine has.
func TestMakeStackWithoutImages(t *testing.T) {
	t.Parallel()
	requireCompose(t)
	requireEngine(t)
	if _, err := exec.LookPath("make"); err != nil {
		skipOrFail(t, "no make")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var c composeFile
	readYAML(t, "compose.yaml", &c)
	var missing []string
	for _, name := range sortedKeys(c.Services) {
		img := c.Services[name].Image
		if _, err := run(ctx, root, nil, "docker", "image", "inspect", img); err != nil && !slices.Contains(missing, img) {
			missing = append(missing, img)
		}
	}
	cases := map[string][]string{"stack/testdata/compose-missing-image.yaml": {"workshop.invalid/never-pulled:v0.0.0"}}
	if len(missing) > 0 {
		cases["stack/compose.yaml"] = missing
	} else {
		t.Log("every pinned image is here: only the fixture runs (a test never starts the real stack)")
	}
	for file, missing := range cases {
		t.Run(file, func(t *testing.T) {
			id := randomID(t)
			network, project := "o11y-test-"+id, "o11ytest"+id
			leftovers := func() string {
				var out []string
				if _, err := run(ctx, root, nil, "docker", "network", "inspect", network); err == nil {
					out = append(out, "network "+network)
				}
				for _, kind := range []string{"volume", "container"} {
					args := []string{"docker", kind, "ls", "-q", "--filter", "label=com.docker.compose.project=" + project}
					if kind == "container" {
						args = append(args, "-a")
					}
					ids, _ := run(ctx, root, nil, args...)
					for _, id := range strings.Fields(ids) {
						out = append(out, kind+" "+id)
						_, _ = run(ctx, root, nil, "docker", kind, "rm", "-f", id)
					}
				}
				_, _ = run(ctx, root, nil, "docker", "network", "rm", network)
				return strings.Join(out, ", ")
			}
			t.Cleanup(func() { leftovers() })

			// As a user types it: not as a job of the make that may be
			// running this test (its jobserver flags would make this make
			// print a warning of its own).
			env := []string{"O11Y_NETWORK=" + network, "COMPOSE_PROJECT_NAME=" + project, "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}
			out, err := run(ctx, root, env,
				"make", "--no-print-directory", "stack", "STACK_FILE="+file)
			require.Error(t, err, "make stack started with images missing")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			assert.Len(t, lines, 1, "one line:\n%s", out)
			for _, img := range missing {
				assert.Contains(t, lines[0], img)
			}
			assert.Contains(t, lines[0], "make stack-pull")
			assert.Empty(t, leftovers(), "make stack created these before failing")
		})
	}
}
