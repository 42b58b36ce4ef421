package lesson

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	xansi "github.com/charmbracelet/x/ansi"

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
				out, err := Render(md, Output{Terminal: false, Width: 60})
				assert.NoError(t, err, f)
				assert.NotContains(t, out, "\x1b[", f)
				assert.NotContains(t, out, "**", "%s: plain text shows no emphasis markers", f)
				// Every line of code comes out whole, however narrow the prose.
				rendered := map[string]bool{}
				for l := range strings.SplitSeq(out, "\n") {
					rendered[strings.TrimSpace(l)] = true
				}
				for _, code := range codeLines(md) {
					assert.True(t, rendered[code], "%s: the code line %q is not a line of the output", f, code)
				}
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

// codeLines are the non-empty lines of the fenced code blocks of markdown,
// trimmed.
func codeLines(markdown string) []string {
	var out []string
	in := ""
	for l := range strings.SplitSeq(markdown, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case in == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			in = t[:3]
		case in != "" && strings.HasPrefix(t, in):
			in = ""
		case in != "" && t != "":
			out = append(out, t)
		}
	}
	return out
}

const (
	longCode = `ctx, span := s.tracer.Start(ctx, fmt.Sprintf("async_roll_%d", i), trace.WithAttributes(attribute.Int("async.roll_index", i)))`
	longCmd  = `go test -run '^(TestRollAsyncEveryRollFailing|TestRollAsyncFailureCancelsTheOtherRolls|TestRollAsyncSpans)$' ./dice-roller/`
	prose    = "Some **bold** and *emphasised* prose that is long enough to wrap at forty columns for sure, with `a code span` in it."
)

// escaped is code with a backslash, which markdown would undo in prose.
const escaped = `grep -E '^dice_(rolls_total|roll_value_bucket\{die_type="fair")' "a\\b"`

var sample = "# Title\n\n" + prose + "\n\n```go\n" + longCode + "\n\tdefer span.End()\n" + escaped + "\n```\n\n" +
	"- a list item that is long enough to wrap as well at forty columns\n\n  ```sh\n  " + longCmd + "\n  ```\n- a second item\n\n" +
	"~~~\nplain " + strings.Repeat("x", 90) + "\n~~~\n\nThe end.\n"

// TestRenderNeverWrapsCode renders with every style and checks the text a
// terminal shows (escapes stripped): each line of code is whole, with
// nothing inserted in it or padded after it, while prose wraps at the width.
func TestRenderNeverWrapsCode(t *testing.T) {
	t.Setenv("GLAMOUR_STYLE", "")
	for _, style := range Styles {
		for _, width := range []int{40, 72} {
			t.Run(fmt.Sprintf("%s/%d", style, width), func(t *testing.T) {
				out, err := Render(sample, Output{Terminal: true, Width: width, Style: style})
				require.NoError(t, err)
				lines := strings.Split(xansi.Strip(out), "\n")
				whole := func(code string) {
					t.Helper()
					i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, code) })
					require.GreaterOrEqual(t, i, 0, "%q is cut:\n%s", code, xansi.Strip(out))
					assert.Equal(t, code, strings.TrimLeft(lines[i], " "), "nothing before or after the code on its line")
				}
				whole(longCode)
				whole(escaped)
				whole("\tdefer span.End()")
				whole(longCmd)
				whole("plain " + strings.Repeat("x", 90))
				for _, l := range lines {
					if strings.Contains(l, longCode) || strings.Contains(l, longCmd) || strings.Contains(l, escaped) || strings.Contains(l, "xxxx") {
						continue
					}
					assert.LessOrEqual(t, xansi.StringWidth(strings.TrimRight(l, " ")), width, "prose wraps at %d: %q", width, l)
				}
				assert.Contains(t, strings.Join(lines, " "), "The end.")
				if style == "notty" {
					assert.NotContains(t, out, "*", "no emphasis markers in plain text")
					assert.Contains(t, out, "Some bold and emphasised prose")
				}
			})
		}
	}
	narrow, err := Render(prose, Output{Width: 40})
	require.NoError(t, err)
	wide, err := Render(prose, Output{Width: 200})
	require.NoError(t, err)
	assert.Greater(t, strings.Count(strings.TrimSpace(narrow), "\n"), 1, "prose wraps at 40")
	assert.Equal(t, 0, strings.Count(strings.TrimSpace(wide), "\n"), "and not at 200")
	unknown, err := Render(prose, Output{})
	require.NoError(t, err)
	for _, l := range strings.Split(unknown, "\n") {
		assert.LessOrEqual(t, len(l), DefaultWidth, "an unknown width is %d", DefaultWidth)
	}
}

func TestCutCodeBlocks(t *testing.T) {
	md := "a\n\n  ```go\n  x := 1\n    y\n  ```\nb\n````\n```\n````\n```unclosed\nz\n"
	prose, blocks := cutCodeBlocks(md)
	assert.Equal(t, []codeBlock{{fence: "```", info: "go", lines: []string{"x := 1", "  y"}}, {fence: "````", lines: []string{"```"}}}, blocks)
	assert.Equal(t, "a\n\n\n  "+placeholder(0)+"\n\nb\n\n"+placeholder(1)+"\n\n```unclosed\nz\n", prose)
}

// TestRefsSayTheirKind: a step or an exercise printed for people says what
// it is and how to open it, so neither reads like a check's id.
func TestRefsSayTheirKind(t *testing.T) {
	assert.Equal(t, "step 4.2 (workshop show 4 2)", StepRef("4.2"))
	assert.Equal(t, "exercise 4.1 (workshop hint 4.1)", ExerciseRef("4.1"))
	_, err := SplitID("4")
	assert.ErrorContains(t, err, `"4" is not an exercise id; an exercise is named by the step that teaches it, like 4.1`)
}
