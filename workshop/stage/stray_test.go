//go:build !windows

package stage

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/files"
)

// hostileStage copies the reference stage n and adds a hostile fixture of
// testdata/hostile to its dice-roller, as an extra file of package main.
func hostileStage(t *testing.T, n int, fixture string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stage"+strconv.Itoa(n))
	require.NoError(t, files.CopyModule(stageDir(t, n), dir, false))
	src, err := os.ReadFile(filepath.Join("testdata", "hostile", fixture))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dice-roller", "zz_hostile.go"), src, 0o644))
	return dir
}

var strayLine = regexp.MustCompile(`^stray child (\d+) started$`)

// TestStopEndsAStrayChild: a service starts a child that keeps its stdout
// open and ignores SIGTERM, in the service's process group or in a session
// of its own. Stop neither waits for the child (it lives 5 minutes) nor
// leaves it running. Before the fix, the child in the group made Stop wait
// out the stop timeout and fail; the one in its own session hung Stop until
// it exited and survived it.
func TestStopEndsAStrayChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	for _, fixture := range []string{"stray_group.go", "stray_session.go"} {
		t.Run(fixture, func(t *testing.T) {
			var mu sync.Mutex
			child := 0
			sys, err := StartLocal(t.Context(), LocalOptions{
				Dir: hostileStage(t, 1, fixture), Stage: 1, FreePorts: true, BuildDir: t.TempDir(),
				Env: []string{"OTEL_SDK_DISABLED=true", "ROLL_MAX_DELAY=0"},
				Output: func(_ string, line []byte) {
					if m := strayLine.FindSubmatch(line); m != nil {
						mu.Lock()
						child, _ = strconv.Atoi(string(m[1]))
						mu.Unlock()
					}
				},
			})
			require.NoError(t, err)
			require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return child != 0 },
				10*time.Second, 20*time.Millisecond, "the stray child says its pid")
			mu.Lock()
			pid := child
			mu.Unlock()
			require.True(t, running(pid))

			stopped := make(chan error, 1)
			go func() { stopped <- sys.Stop(context.Background()) }()
			select {
			case err := <-stopped:
				assert.NoError(t, err, "the service itself stopped on SIGTERM")
			case <-time.After(90 * time.Second): // a hang detector, not a performance bound
				killMarked(func(m string) bool { return ownerPID(m) == strconv.Itoa(os.Getpid()) })
				t.Fatal("Stop waits for the stray child")
			}
			assert.Eventually(t, func() bool { return !running(pid) }, 5*time.Second, 20*time.Millisecond,
				"the stray child %d is gone", pid)
		})
	}
}
