package exercise

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// TestStartersFailExactlyTheirExercisesTests proves that the unit tests of
// each exercise module are the learner's feedback, in the order of the
// manifest ("Done when" is cumulative): the reference stage passes every test
// the manifest lists, and for k = 0..n-1 the tree with exercises 1..k done
// and the others untouched fails exactly the tests of exercises k+1..n (the
// untouched starter, k = 0, fails no other test either), and each test is
// listed by one exercise. So each exercise's tests pass once it and the ones
// before it are done, and not before.
func TestStartersFailExactlyTheirExercisesTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test in every stage's starters")
	}
	r := root(t)
	for _, n := range Stages {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel() // each go test below leaves a core idle much of the time
			s, err := lesson.Load(r, n)
			require.NoError(t, err)
			var all []string
			for _, e := range s.Exercises {
				require.NotEmpty(t, e.Tests, "exercise %s lists no tests in its manifest", e.ID)
				for _, name := range e.Tests {
					require.Regexp(t, `^[a-z0-9/-]+/(Test|Fuzz)\w+$`, name, "exercise %s", e.ID)
					if !slices.Contains(all, name) {
						all = append(all, name)
					}
				}
			}
			slices.Sort(all)
			// A test passes at one point of the order: it is listed by the
			// one exercise that makes it pass, not by every one it needs.
			for _, name := range all {
				var by []string
				for _, e := range s.Exercises {
					if slices.Contains(e.Tests, name) {
						by = append(by, e.ID)
					}
				}
				assert.Len(t, by, 1, "%s is listed by exercises %s: list it only under the last exercise it needs, the one that makes it pass",
					name, strings.Join(by, ", "))
			}

			ref := goTest(t, repo.StageDir(r, n), all, "./...")
			assert.Empty(t, ref.failed, "the reference stage fails tests")
			assert.Equal(t, all, ref.passed, "every test the manifest lists exists and passes in the reference stage")

			starter := goTest(t, repo.ExerciseDir(r, n), nil, "./...")
			assert.Equal(t, all, starter.failed, "the untouched starter fails exactly the exercises' tests, and no other test")

			// One folder for every tree of the stage, so that go's build
			// cache serves the packages the next exercise does not touch.
			dir := filepath.Join(t.TempDir(), "stage"+strconv.Itoa(n))
			for k := 1; k < len(s.Exercises); k++ {
				var done, undone, want []string
				for i, e := range s.Exercises {
					if i < k {
						done = append(done, e.ID)
						continue
					}
					undone = append(undone, e.ID)
					want = append(want, e.Tests...)
				}
				want = slices.Compact(slices.Sorted(slices.Values(want)))
				require.NoError(t, os.RemoveAll(dir))
				require.NoError(t, Starter(r, n, dir, undone...))
				got := goTest(t, dir, all, TestPackages(all)...)
				assert.Equal(t, want, got.failed,
					"with exercises %s done and %s not, exactly the tests of %s fail: a test that passes early belongs to an earlier exercise, one that still fails to a later one",
					strings.Join(done, ", "), strings.Join(undone, ", "), strings.Join(undone, ", "))
			}
		})
	}
}

type testRun struct{ passed, failed []string }

// goTest runs the named tests ("pkg/TestName"; all tests without names) in
// the packages of the module in dir and reports which of them passed, and
// which tests failed (named or not: a test of another package with the same
// name counts); a package that does not build fails as "pkg/(build)".
func goTest(t *testing.T, dir string, names []string, pkgs ...string) testRun {
	t.Helper()
	args := []string{"test", "-json", "-count=1"}
	if len(names) > 0 {
		args = append(args, "-run", TestPattern(names))
	}
	args = append(args, pkgs...)
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		require.NoError(t, err)
	}
	mod := moduleOf(t, dir)
	var run testRun
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct{ Action, Package, Test string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(ev.Package, mod), "/")
		switch {
		case ev.Action == "fail" && ev.Test == "" && !slices.ContainsFunc(run.failed, func(f string) bool { return strings.HasPrefix(f, pkg+"/") }):
			run.failed = append(run.failed, pkg+"/(build)")
		case ev.Test == "" || strings.Contains(ev.Test, "/"):
		case ev.Action == "fail":
			run.failed = append(run.failed, pkg+"/"+ev.Test)
		case ev.Action == "pass" && slices.Contains(names, pkg+"/"+ev.Test):
			run.passed = append(run.passed, pkg+"/"+ev.Test)
		}
	}
	slices.Sort(run.passed)
	slices.Sort(run.failed)
	if len(run.failed) > 0 && testing.Verbose() {
		t.Logf("go test in %s:\n%s", dir, stderr.String())
	}
	return run
}

func moduleOf(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(b)
	require.NotNil(t, m, "no module line in %s/go.mod", dir)
	return string(m[1])
}
