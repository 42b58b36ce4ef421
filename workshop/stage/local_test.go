package stage

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func TestLineWriterSplitsChunks(t *testing.T) {
	var lines []string
	w := NewLineWriter(func(l []byte) { lines = append(lines, string(l)) })
	for _, chunk := range []string{"one\ntw", "o\n", "thr", "ee"} {
		_, _ = w.Write([]byte(chunk))
	}
	assert.Equal(t, []string{"one", "two"}, lines)
	w.Flush()
	assert.Equal(t, []string{"one", "two", "three"}, lines)
}

func TestLayout(t *testing.T) {
	s, err := Layout(4)
	require.NoError(t, err)
	assert.Equal(t, []Service{{Name: "die-service", Port: 8106}, {Name: "dice-roller", Port: 8107},
		{Name: "frontend", Port: 8108, Needs: []string{"die-service"}}}, s)
	_, err = Layout(5)
	assert.EqualError(t, err, "no stage 5; stages are 1–4")
	_, err = Layout(0)
	assert.Error(t, err)
	for n := 1; n <= repo.Stages; n++ {
		_, err := Layout(n)
		assert.NoError(t, err, "every stage of the checkout has its services and ports")
	}
}

func stageDir(t *testing.T, n int) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return repo.StageDir(root, n)
}

// TestStartLocalRunsStageAndStopsClean runs the real stage 4 as processes on
// free ports, calls it through the frontend, and stops it: every process is
// gone afterwards.
func TestStartLocalRunsStageAndStopsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 4")
	}
	var mu sync.Mutex
	logs := map[string][]string{}
	sys, err := StartLocal(t.Context(), LocalOptions{
		Dir: stageDir(t, 4), Stage: 4, FreePorts: true,
		Env: []string{"ROLL_MAX_DELAY=0", "OTEL_SDK_DISABLED=true"},
		Output: func(service string, line []byte) {
			mu.Lock()
			defer mu.Unlock()
			logs[service] = append(logs[service], string(line))
		},
	})
	require.NoError(t, err)
	pids := []int{}
	for _, p := range sys.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	byName := sys.PIDs()
	assert.Len(t, byName, 3)
	for _, s := range sys.Services() {
		assert.Contains(t, pids, byName[s.Name], "PIDs names %s's process", s.Name)
	}

	resp, err := http.Get(sys.URL("frontend") + "/roll-async?die=fair&times=3")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var batch struct{ Count int }
	require.NoError(t, json.Unmarshal(body, &batch))
	assert.Equal(t, 3, batch.Count)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, sys.Stop(ctx))
	assert.Empty(t, sys.PIDs(), "no pids once stopped")
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d is gone", pid)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.NotEmpty(t, logs["dice-roller"])
	assert.Contains(t, strings.Join(logs["dice-roller"], "\n"), `"message":"dice-roller stopped"`, "SIGTERM lets the service shut down cleanly")
}

func TestStartLocalReportsBuildErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n\ngo 1.26.0\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "dice-roller"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dice-roller", "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644))

	_, err := StartLocal(t.Context(), LocalOptions{Dir: dir, Stage: 1, FreePorts: true})
	var be *BuildError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "dice-roller", be.Service)
	assert.Contains(t, be.Output, "undefined: undefinedThing")

	_, err = StartLocal(t.Context(), LocalOptions{Dir: t.TempDir(), Stage: 1})
	assert.ErrorContains(t, err, "is not a stage module (no go.mod there)")
}

func TestStartLocalReportsACrashAtStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stage 1")
	}
	_, err := StartLocal(t.Context(), LocalOptions{
		Dir: stageDir(t, 1), Stage: 1, FreePorts: true,
		Env: []string{"ROLL_MAX_DELAY=bogus"},
	})
	assert.ErrorContains(t, err, "dice-roller exited during startup (exit status 2)")
}

// TestLineWriterBoundsALine: a service that prints without a newline must
// not grow the writer's buffer for ever; the line is cut and marked, the
// rest of it skipped, and the next line comes through whole.
func TestLineWriterBoundsALine(t *testing.T) {
	var lines []string
	w := NewLineWriter(func(l []byte) { lines = append(lines, string(l)) })
	chunk := []byte(strings.Repeat("x", 1<<20))
	for range 100 { // 100 MB without a newline
		n, err := w.Write(chunk)
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
		require.LessOrEqual(t, len(w.buf), MaxLineBytes)
	}
	_, _ = w.Write([]byte("tail\nnext\n" + strings.Repeat("y", MaxLineBytes+5) + "\nlast"))
	w.Flush()
	require.Len(t, lines, 4)
	assert.Equal(t, strings.Repeat("x", MaxLineBytes)+TruncatedMark, lines[0])
	assert.Equal(t, "next", lines[1])
	assert.Equal(t, strings.Repeat("y", MaxLineBytes)+TruncatedMark, lines[2])
	assert.Equal(t, "last", lines[3])
}
