package lesson

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// TestRealLessonsResolve checks the lessons committed in this repository:
// every manifest entry points at something that exists, ids are in order and
// unique, and every page renders.
func TestRealLessonsResolve(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	stages, err := LoadAll(root)
	require.NoError(t, err)

	for _, s := range stages {
		t.Run(fmt.Sprintf("stage%d", s.Number), func(t *testing.T) {
			assert.NotEmpty(t, s.Title)
			assert.NotEmpty(t, s.Summary)
			files := []string{s.Overview}
			for i, step := range s.Steps {
				assert.Equal(t, fmt.Sprintf("%d.%d", s.Number, i+1), step.ID, "steps are numbered N.1, N.2, … in order")
				assert.NotEmpty(t, step.Title, step.ID)
				files = append(files, step.File)
				if step.Exercise != "" {
					ex, err := s.Exercise(step.Exercise)
					if assert.NoError(t, err, "step %s names exercise %s", step.ID, step.Exercise) {
						assert.Equal(t, step.ID, ex.Step, "exercise %s points back at its step", ex.ID)
					}
				}
			}
			assert.GreaterOrEqual(t, len(s.Steps), 3, "a stage has at least three steps")
			assert.GreaterOrEqual(t, len(s.Exercises), 3, "a stage has at least three exercises")

			seen := map[string]bool{}
			for _, ex := range s.Exercises {
				assert.False(t, seen[ex.ID], "exercise id %s is unique", ex.ID)
				seen[ex.ID] = true
				n, err := SplitID(ex.ID)
				assert.NoError(t, err)
				assert.Equal(t, s.Number, n, "exercise %s belongs to stage %d", ex.ID, s.Number)
				_, err = s.Step(ex.Step)
				assert.NoError(t, err, "exercise %s names step %s", ex.ID, ex.Step)
				assert.NotEmpty(t, ex.Goal, ex.ID)
				assert.NotEmpty(t, ex.Files, ex.ID)
				for _, f := range ex.Files {
					assert.FileExists(t, filepath.Join(repo.StageDir(root, s.Number), f), "exercise %s names a file of the stage", ex.ID)
				}
				assert.GreaterOrEqual(t, len(ex.Hints), 2, "exercise %s has hints", ex.ID)
				for i, h := range ex.Hints {
					assert.NotEmpty(t, strings.TrimSpace(h), "hint %d of %s", i+1, ex.ID)
				}
			}

			for _, f := range files {
				md, err := s.Read(f)
				if !assert.NoError(t, err) {
					continue
				}
				assert.NotEmpty(t, strings.TrimSpace(md), f)
				out, err := Render(md, Output{Terminal: false, Width: 80})
				assert.NoError(t, err, f)
				assert.NotContains(t, out, "\x1b[", f)
			}
			// Every markdown file of the lesson is reachable from the manifest.
			entries, err := os.ReadDir(s.Dir)
			require.NoError(t, err)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".md") {
					assert.Contains(t, files, e.Name(), "%s is listed in lesson.toml", e.Name())
				}
			}
		})
	}
}

func TestChooseStyle(t *testing.T) {
	t.Setenv("GLAMOUR_STYLE", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("COLORFGBG", "")
	style := func(o Output) string {
		s, err := ChooseStyle(o)
		require.NoError(t, err)
		return s
	}
	assert.Equal(t, "notty", style(Output{Terminal: false}))
	assert.Equal(t, "dark", style(Output{Terminal: true}))
	t.Setenv("COLORFGBG", "0;15")
	assert.Equal(t, "light", style(Output{Terminal: true}))
	assert.Equal(t, "ascii", style(Output{Terminal: true, Style: "ascii"}))
	t.Setenv("GLAMOUR_STYLE", "dark")
	assert.Equal(t, "dark", style(Output{Terminal: true}))
	t.Setenv("GLAMOUR_STYLE", "")
	t.Setenv("NO_COLOR", "1")
	assert.Equal(t, "notty", style(Output{Terminal: true}))
	_, err := ChooseStyle(Output{Style: "neon"})
	assert.ErrorContains(t, err, `unknown style "neon"; valid: dark, light, notty, ascii`)
}

// TestReadmeIndexesEveryStep keeps README.md's lesson index true.
func TestReadmeIndexesEveryStep(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	stages, err := LoadAll(root)
	require.NoError(t, err)
	for _, s := range stages {
		assert.Contains(t, string(readme), fmt.Sprintf("**Stage %d: %s** ([overview](stages/stage%d/lesson/%s))", s.Number, s.Title, s.Number, s.Overview))
		for _, step := range s.Steps {
			assert.Contains(t, string(readme), fmt.Sprintf("- %s [%s](stages/stage%d/lesson/%s)", step.ID, step.Title, s.Number, step.File))
		}
	}
}
