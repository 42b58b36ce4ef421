package exercise

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repo.Root(".")
	require.NoError(t, err)
	return r
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, src string
		want      []Region
		err       string
	}{
		{name: "one region with a stub", src: "a\n\t// exercise 1.1: begin\n\t// exercise 1.1: stub: return nil\n\tx := 1\n\t// exercise 1.1: end\nb",
			want: []Region{{ID: "1.1", File: "f.go", Line: 2, Indent: "\t", Stub: []string{"return nil"}, Body: []string{"\tx := 1"}}}},
		{name: "unbalanced", src: "// exercise 1.1: begin\nx\n", err: "never ends"},
		{name: "end without begin", src: "x\n// exercise 1.1: end\n", err: "outside a region"},
		{name: "nested", src: "// exercise 1.1: begin\n// exercise 1.2: begin\n", err: "begins inside"},
		{name: "wrong end", src: "// exercise 1.1: begin\nx\n// exercise 1.2: end\n", err: "outside a region"},
		{name: "empty", src: "// exercise 1.1: begin\n// exercise 1.1: end\n", err: "empty"},
		{name: "late stub", src: "// exercise 1.1: begin\nx\n// exercise 1.1: stub: y\n", err: "directly follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("f.go", []byte(tt.src))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestStagesMarkedForEveryExercise: every manifest exercise of a generated
// stage has a balanced region in a file it lists, and every region an
// exercise.
func TestStagesMarkedForEveryExercise(t *testing.T) {
	r := root(t)
	for _, n := range Stages {
		s, regions, err := StageRegions(r, n)
		require.NoError(t, err, "stage %d", n)
		assert.NotEmpty(t, s.Exercises, "stage %d", n)
		assert.NotEmpty(t, regions, "stage %d", n)
	}
}

// TestGeneratedTreesDoNotDrift: exercises/ and solutions/ are what `workshop
// gen` writes from stages/ now (run it after changing a stage).
func TestGeneratedTreesDoNotDrift(t *testing.T) {
	r := root(t)
	out := t.TempDir()
	require.NoError(t, GenerateTo(r, out))
	for _, n := range Stages {
		for _, sub := range []string{"exercises", "solutions"} {
			rel := filepath.Join(sub, "stage"+strconv.Itoa(n))
			want, got := tree(t, filepath.Join(out, rel)), tree(t, filepath.Join(r, rel))
			assert.Equal(t, keys(want), keys(got), "%s: the files differ; run `go run ./workshop/cmd/workshop gen`", rel)
			for name, w := range want {
				if g, ok := got[name]; ok && !bytes.Equal(w, g) {
					t.Errorf("%s/%s drifted from stages/; run `go run ./workshop/cmd/workshop gen`", rel, name)
				}
			}
		}
	}
}

func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p == filepath.Join(dir, "bin") {
			return filepath.SkipDir // builds (git ignores them)
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	require.NoError(t, err)
	return files
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestExerciseModulesBuild: each learner's starting point compiles and vets
// on its own, outside the workspace.
func TestExerciseModulesBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every exercise module")
	}
	r := root(t)
	for _, n := range Stages {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
				cmd := exec.CommandContext(t.Context(), "go", args...)
				cmd.Dir = repo.ExerciseDir(r, n)
				cmd.Env = append(os.Environ(), "GOWORK=off")
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "go %v in exercises/stage%d:\n%s", args, n, out)
			}
		})
	}
}

// TestUntouchedExercisesFailCheck: the starting point of a stage must not
// pass `workshop check N`.
func TestUntouchedExercisesFailCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every stage's exercise")
	}
	out := t.TempDir()
	require.NoError(t, GenerateTo(root(t), out))
	// What each starter lacks, and so the checks it must fail: the stage's new
	// instrumentation, and nothing of the stages before it.
	want := map[int][]string{
		1: {"server-spans", "roll-span", "dice-metrics", "logs-trace", "flush"},  // no SDK, no span attributes, no dice metrics, no trace ids in logs
		2: {"frontend-trace", "frontend-span", "frontend-metrics"},               // no client instrumentation or propagator, no frontend attributes or metrics
		3: {"bad-input", "die-service", "lookup-metrics", "three-service-trace"}, // 400 vs 503, die-service telemetry, lookup metrics, the trace to the die-service
		4: {"async-children", "async-overlap", "async-span", "async-metrics"},    // the batch's spans, attributes and metrics
	}
	for _, n := range Stages {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			res, err := check.Run(t.Context(), check.Options{Stage: n, Dir: repo.ExerciseDir(out, n), Runtime: "local"})
			require.NoError(t, err)
			require.NoError(t, res.Setup, "the exercise builds and starts")
			assert.Equal(t, want[n], res.Failing(), "the untouched exercise of stage %d fails exactly the checks of its exercises", n)
			// Each failure is what a learner reads first: it must say where to
			// look and which exercise writes it.
			for _, o := range res.Outcomes {
				if !o.Passed {
					require.NotNil(t, o.Failure, o.ID)
					assert.NotEmpty(t, o.Failure.Expected, o.ID)
					assert.NotEmpty(t, o.Failure.Seen, o.ID)
					assert.True(t, slices.ContainsFunc(o.Places(), func(p check.Place) bool { return p.Exercise != "" }),
						"check %s of the untouched stage %d names the exercise to do", o.ID, n)
				}
			}
			var report bytes.Buffer
			check.WriteReport(&report, res, false)
			t.Log(report.String())
		})
	}
}

func TestStripMarkers(t *testing.T) {
	in := "a\n\t// exercise 1.1: begin\n\t// exercise 1.1: stub: x := 0\n\tx := 1\n\t// exercise 1.1: end\n// exercise about: not a marker\n"
	assert.Equal(t, "a\n\tx := 1\n// exercise about: not a marker\n", StripMarkers(in))
}
