package check

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// syncBuffer is an io.Writer the test reads while Watch writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatchChecksAgainOnSave runs `check --watch` on a copy of stage 1:
// the first card passes; a save that breaks the roll's span (and an
// editor's swap file and a write into bin/, which are ignored) runs the
// check again, which says what changed, and so does the save of the fix;
// Ctrl-C stops it with no goroutine and no service left.
func TestWatchChecksAgainOnSave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1, twice")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := filepath.Join(t.TempDir(), "stage1")
	require.NoError(t, breaks.Apply(referenceDir(t, 1), dir, breaks.Break{Name: "copy", Stages: []int{1}}, 1))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	runs := make(chan *Result, 4)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, WatchOptions{Options: Options{Stage: 1, Dir: dir, Runtime: "local"}, Out: &out,
			Ran: func(r *Result) { runs <- r }})
	}()
	first := waitRun(t, runs, done)
	require.True(t, first.OK(), out.String())
	assert.NotContains(t, out.String(), "since the last run", "the first card has nothing to compare with")

	// Ignored: the kit's bin/, an editor's swap file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "dice-roller"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dice-roller", ".handlers.go.swp"), []byte("x"), 0o644))
	// The save: die.error becomes a string, which roll-span refuses.
	handlers := filepath.Join(dir, "dice-roller", "handlers.go")
	src, err := os.ReadFile(handlers)
	require.NoError(t, err)
	broken := strings.Replace(string(src), `attribute.Bool("die.error", false)`, `attribute.String("die.error", "false")`, 1)
	require.NotEqual(t, string(src), broken)
	require.NoError(t, os.WriteFile(handlers, []byte(broken), 0o644))

	second := waitRun(t, runs, done)
	assert.Equal(t, []string{"roll-span"}, second.Failing())
	text := out.String()
	assert.Contains(t, text, "\ndice-roller/handlers.go changed: checking again…\n")
	assert.NotContains(t, text, "bin/dice-roller")
	assert.NotContains(t, text, ".swp")
	assert.Contains(t, text, "since the last run: exercise 1.3 fails again; check roll-span now fails.\n")

	// The fix, saved: the card says what now passes.
	require.NoError(t, os.WriteFile(handlers, src, 0o644))
	third := waitRun(t, runs, done)
	assert.True(t, third.OK())
	assert.Contains(t, out.String(), "since the last run: exercise 1.3 now passes; check roll-span now passes.\n")
	assert.Equal(t, 3, strings.Count(out.String(), "workshop check 1 "), "three report cards")

	cancel()
	require.NoError(t, <-done)
	select {
	case r := <-runs:
		t.Fatalf("a run after the last save: %v", r.Failing())
	default:
	}
	assert.Empty(t, servicesOf(t, os.Getpid()), "no service of this process is left running")
}

// waitRun waits for Watch's next result; Watch ending first fails the test.
func waitRun(t *testing.T, runs <-chan *Result, done <-chan error) *Result {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case err := <-done:
		t.Fatalf("Watch returned before a run: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("no run within 3 minutes")
	}
	return nil
}

// servicesOf lists the processes started by the local runtime for the CLI
// process pid (stage.OwnerEnv in their environment). Linux only: elsewhere
// it says so and finds none.
func servicesOf(t *testing.T, pid int) []int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Log("no /proc: the leftover-process assertion only runs on Linux")
		return nil
	}
	envs, err := filepath.Glob("/proc/[0-9]*/environ")
	require.NoError(t, err)
	want := []byte(stage.OwnerEnv + "=" + strconv.Itoa(pid) + "\x00")
	var found []int
	for _, p := range envs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(append(env, 0), want) {
			continue
		}
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		found = append(found, n)
	}
	return found
}

// TestChangesSaysWhatChanged: the what-changed line by exercise and by
// check key, and when the stage stops or starts building.
func TestChangesSaysWhatChanged(t *testing.T) {
	checks := Catalog(4)
	result := func(failing ...string) *Result {
		r := &Result{Stage: 4}
		for _, c := range checks {
			out := Outcome{Check: c, Passed: !slices.Contains(failing, c.ID)}
			if c.ID == "async-overlap" && slices.Contains(failing, "skip") {
				out.Passed, out.Skipped = false, true
			}
			r.Outcomes = append(r.Outcomes, out)
		}
		return r
	}
	broken := &Result{Stage: 4, Setup: errors.New("does not compile")}

	assert.Equal(t, "since the last run: exercise 4.3 now passes; check async-children still fails; check async-span now passes.",
		Changes(result("async-span", "async-children"), result("async-children")))
	assert.Equal(t, "since the last run: exercise 4.4 fails again; check async-metrics now fails.",
		Changes(result(), result("async-metrics")))
	assert.Equal(t, "since the last run: nothing changed; every check still passes.", Changes(result(), result()))
	assert.Equal(t, "since the last run: check async-children still fails.", Changes(result("async-children"), result("async-children")))
	assert.Equal(t, "since the last run: the stage no longer builds or starts.", Changes(result(), broken))
	assert.Equal(t, "since the last run: the stage still does not build or start.", Changes(broken, broken))
	assert.Equal(t, "since the last run: the stage builds and starts again; exercise 4.1 now passes; exercise 4.4 now passes.",
		Changes(broken, result("async-span")))
	assert.Equal(t, "since the last run: exercise 4.1 fails again; check async-overlap is skipped.", Changes(result(), result("skip")))
}

func TestWatchedIgnoresTheKitsAndEditorsFiles(t *testing.T) {
	root := filepath.Join("/", "w", "stage4")
	for path, want := range map[string]bool{
		"dice-roller/batch.go":             true,
		"go.mod":                           true,
		"die-service/specs.json":           true,
		"bin/dice-roller":                  false,
		".workshop/state.json":             false,
		".git/index":                       false,
		"dice-roller/.batch.go.swp":        false,
		"dice-roller/batch.go~":            false,
		"dice-roller/#batch.go#":           false,
		"dice-roller/.#batch.go":           false,
		"dice-roller/4913":                 false,
		"dice-roller/batch.go___jb_tmp___": false,
		"../stage3/x.go":                   false,
	} {
		assert.Equal(t, want, watched(root, filepath.Join(root, filepath.FromSlash(path))), path)
	}
}
