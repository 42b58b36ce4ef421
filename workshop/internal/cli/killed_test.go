//go:build !windows

package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// buildCLI builds the workshop command into a temporary folder.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "workshop")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/go-o11y-workshop/kit/workshop/cmd/workshop").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// killMidCheck starts `workshop check 1 DIR --runtime rt`, SIGKILLs it once
// the stage is up, and returns its pid.
func killMidCheck(t *testing.T, bin, dir, rt string) int {
	t.Helper()
	cmd := exec.Command(bin, "check", "1", dir, "--runtime", rt)
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	up := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "sending traffic") { // the stage is up
			up = true
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.True(t, up, "the check started the stage")
	return cmd.Process.Pid
}

// leftovers lists what a run of pid left: its services (by their marker,
// through ps as SweepLocal finds them), its temporary folders, and its
// containers, networks and images (by label).
func leftovers(t *testing.T, pid int, docker bool) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ps", "axeww", "-o", "pid=", "-o", "command=").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, " "+stage.OwnerEnv+"="+strconv.Itoa(pid)+"/") {
			left = append(left, "process "+strings.Fields(line)[0])
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "workshop-*-"+strconv.Itoa(pid)+"-*"))
	left = append(left, dirs...)
	if docker {
		filter := "label=" + runtime.Label + "=" + strconv.Itoa(pid)
		for _, args := range [][]string{
			{"ps", "-a", "-q", "--filter", filter},
			{"network", "ls", "-q", "--filter", filter},
			{"images", "-q", "--filter", filter},
		} {
			out, err := exec.Command("docker", args...).Output()
			require.NoError(t, err)
			for _, id := range strings.Fields(string(out)) {
				left = append(left, args[0]+" "+id)
			}
		}
	}
	return left
}

// TestAKilledCheckIsSweptByTheNextRun SIGKILLs a real `workshop check`
// once its stage is up, sees what it left (its services still running,
// its temporary folders; on docker its containers, networks and images),
// and runs the next check: it removes all of it. Before the fix nothing
// found the services on a system without /proc, the temporary folders
// were never removed, and grade swept nothing.
func TestAKilledCheckIsSweptByTheNextRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs stage 1 four times")
	}
	bin := buildCLI(t)
	dir := filepath.Join(t.TempDir(), "stage1")
	require.NoError(t, files.CopyModule(repo.StageDir(realRoot(t), 1), dir, false))
	runtimes := []string{"local"}
	if _, err := runtime.DetectEngine(t.Context()); err == nil {
		runtimes = append(runtimes, "docker")
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %v", err)
	} else {
		t.Logf("docker part skipped: %v", err)
	}
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			pid := killMidCheck(t, bin, dir, rt)
			t.Cleanup(func() { // whatever the outcome, leave nothing
				_, _ = stage.SweepLocal()
				stage.SweepTemp()
				_, _ = runtime.Sweep(t.Context(), false)
			})
			left := leftovers(t, pid, rt == "docker")
			t.Logf("SIGKILLed check %d left: %v", pid, left)
			require.NotEmpty(t, left, "the killed check left something to sweep")

			next := exec.Command(bin, "check", "1", dir, "--runtime", rt)
			next.Dir = t.TempDir()
			var stderr bytes.Buffer
			next.Stdout, next.Stderr = &stderr, &stderr
			require.NoError(t, next.Run(), stderr.String())
			assert.Contains(t, stderr.String(), "temporary folder(s) left by an earlier workshop run")
			if rt == "docker" {
				assert.Contains(t, stderr.String(), "removed leftovers of an earlier run: 2 containers, 2 networks, 2 images")
			} else if slices.ContainsFunc(left, func(l string) bool { return strings.HasPrefix(l, "process ") }) {
				// (A service may also die on its own, writing to the pipe of
				// the killed CLI.)
				assert.Contains(t, stderr.String(), "stopped 1 service process(es) left running by an earlier workshop run that was killed")
			}
			assert.Eventually(t, func() bool { return len(leftovers(t, pid, rt == "docker")) == 0 },
				10*time.Second, 100*time.Millisecond, "the next run swept all the killed one left")
		})
	}
}

// TestGradeOverAForkingLearner grades a learner whose service starts a
// child in a session of its own that holds its stdout open and ignores
// SIGTERM (stage/testdata/hostile/stray_session.go), given as a relative
// folder: the learner is graded, and the child does not outlive the
// grading. Before the fix grade waited as long as the child lived (5
// minutes here) and the child survived.
func TestGradeOverAForkingLearner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	class := t.TempDir()
	forker := learner(t, class, "forker", nil)
	src, err := os.ReadFile(filepath.Join("..", "..", "stage", "testdata", "hostile", "stray_session.go"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(repo.ExerciseDir(forker, 1), "dice-roller", "zz_hostile.go"), src, 0o644))

	code, out, stderr := run(t, class, "grade", "forker", "--stage", "1", "--runtime", "local")
	require.Equal(t, 0, code, stderr)
	n := strconv.Itoa(len(check.Catalog(1)))
	assert.Regexp(t, `(?m)^forker +\d+/`+n+"$", out, "graded (its stray line on stdout fails the log checks)")

	ps, err := exec.Command("ps", "axeww", "-o", "pid=", "-o", "command=").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(ps), "\n") {
		assert.False(t, strings.Contains(line, "STRAY_CHILD=1") && strings.Contains(line, stage.OwnerEnv+"="+strconv.Itoa(os.Getpid())+"/"),
			"the stray child outlived the grading: %s", line)
	}
}
