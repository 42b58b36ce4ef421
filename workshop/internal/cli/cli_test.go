package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	xansi "github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
)

// fixtureRepo writes a small workshop checkout: four stages, each with a
// manifest, an overview, two steps, one exercise with three hints, and code
// that changes from stage to stage.
func fixtureRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("go.work", "go 1.26.0\n")
	for n := 1; n <= 4; n++ {
		dir := fmt.Sprintf("stages/stage%d/", n)
		write(dir+"go.mod", fmt.Sprintf("module example.com/stages/stage%d\n", n))
		write(dir+"app/main.go", fmt.Sprintf("package main\n\nimport _ \"example.com/stages/stage%d/internal\"\n\nconst stage = %d\n\nfunc main() {}\n", n, n))
		if n >= 3 {
			write(dir+"app/extra.go", "package main\n\nfunc extra() {}\n")
		}
		write(dir+"app/main_test.go", fmt.Sprintf("package main\n// test %d\n", n))
		write(dir+"lesson/00-overview.md", fmt.Sprintf("# Stage %d overview\n\nThis stage teaches **spans**.\n", n))
		write(dir+"lesson/01-first.md", fmt.Sprintf("# Step %d.1\n\nWrite `code`.\n", n))
		write(dir+"lesson/02-second.md", fmt.Sprintf("# Step %d.2\n\n%s\n\n```go\n%s\n```\n\nMore **prose**.\n", n, longProse, longCodeLine))
		write(dir+"lesson/lesson.toml", fmt.Sprintf(`stage = %[1]d
title = "Stage %[1]d title"
summary = "What stage %[1]d adds."
overview = "00-overview.md"

[[steps]]
id = "%[1]d.1"
title = "First step"
file = "01-first.md"
exercise = "%[1]d.1"

[[steps]]
id = "%[1]d.2"
title = "Second step"
file = "02-second.md"
checks = ["api", "flush"]

[[exercises]]
id = "%[1]d.1"
step = "%[1]d.1"
title = "Do the thing"
files = ["app/main.go"]
goal = "Write it."
hints = ["first hint %[1]d", "second hint %[1]d", '''third hint %[1]d:

`+"```go\n%[2]s\n```"+`''']
tests = ["app/TestThing", "internal/x/TestOther", "app/TestMore"]
`, n, longCodeLine))
	}
	return root
}

// A line of code and a paragraph longer than any terminal in the tests.
const (
	longCodeLine = `ctx, span := s.tracer.Start(ctx, fmt.Sprintf("async_roll_%d", i), trace.WithAttributes(attribute.Int("async.roll_index", i)))`
	longProse    = "This paragraph of the lesson is long enough to be wrapped at any width a test asks for, and it says nothing more than that."
)

func run(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &Env{Stdout: &out, Stderr: &errb, Dir: dir})
	return code, out.String(), errb.String()
}

func TestUnknownVerbAndFlagsAreUsageErrors(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"show", "9"}, "no stage 9; stages are 1–4"},
		{[]string{"show", "x"}, "no stage x; stages are 1–4"},
		{[]string{"show"}, "show needs a stage"},
		{[]string{"show", "4", "7"}, "no step 7 in stage 4; steps are 4.1–4.2"},
		{[]string{"show", "4", "--style", "neon"}, `unknown style "neon"; valid: dark, light, notty, ascii`},
		{[]string{"show", "4", "--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"diff", "0"}, "no stage 0; stages are 1–4"},
		{[]string{"diff", "4", "nope.go"}, "no file nope.go in either stage"},
		{[]string{"hint", "4"}, `"4" is not an exercise id`},
		{[]string{"hint", "4.9"}, "no exercise 4.9; stage 4's exercises are 4.1"},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"doctor", "extra"}, "doctor takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, root, tt.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
}

func TestEveryVerbHasHelp(t *testing.T) {
	root := fixtureRepo(t)
	for _, v := range verbs {
		t.Run(v.name, func(t *testing.T) {
			code, _, stderr := run(t, root, v.name, "--help")
			assert.Equal(t, 0, code)
			assert.Contains(t, stderr, "Usage: workshop "+v.name)
		})
	}
	code, stdout, _ := run(t, root, "help")
	assert.Equal(t, 0, code)
	for _, v := range verbs {
		assert.Contains(t, stdout, v.name)
	}
}

func TestOutsideTheRepository(t *testing.T) {
	t.Setenv("WORKSHOP_ROOT", "")
	code, _, stderr := run(t, t.TempDir(), "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not inside the workshop repository")
}

func TestListShowsStepsAndProgress(t *testing.T) {
	root := fixtureRepo(t)
	code, out, _ := run(t, root)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Progress [....................] 0/4 stages pass")
	assert.Contains(t, out, "Stage 3  Stage 3 title  [not checked yet]")
	assert.Contains(t, out, "  step 3.1  First step  (exercise 3.1)\n")

	// A saved check result shows up, and passing stages fill the bar. The
	// failing checks of a stage are named by their ids, with their steps;
	// ids the catalog does not know are skipped.
	writeState(t, root, `{
  "checks": {
    "1": {"dir": "exercises/stage1", "passed": 9, "total": 9, "at": "2026-11-24T10:00:00Z"},
    "2": {"dir": "exercises/stage2", "passed": 10, "total": 12, "at": "2026-11-24T10:05:00Z", "failing": ["frontend-trace", "4.16", "frontend-span"]}
  }
}`)
	_, out, _ = run(t, root, "list")
	assert.Contains(t, out, "Progress [#####...............] 1/4 stages pass")
	assert.Contains(t, out, "[passes: 9/9 checks,")
	assert.Contains(t, out, "[10/12 checks pass,")
	assert.Contains(t, out, "  failing: check frontend-trace (step 2.3), check frontend-span (step 2.2)\n")
	assert.NotContains(t, out, "4.16")
	assert.NotContains(t, out, "\x1b[", "no colour when not a terminal")
}

// TestOldStateFiles: a state file written by an earlier version (no failing
// ids) is read by every verb that reads it.
func TestOldStateFiles(t *testing.T) {
	root := fixtureRepo(t)
	writeState(t, root, `{
  "checks": {"4": {"dir": "exercises/stage4", "passed": 15, "total": 19, "at": "2026-11-24T10:00:00Z"}},
  "hints": {"4.1": 1}
}`)
	code, out, stderr := run(t, root, "list")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "[15/19 checks pass,")
	assert.Contains(t, out, "which checks fail: run workshop check 4 again")
	code, out, stderr = run(t, root, "hint", "4.1")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Hint 2 of 3:")
	code, _, stderr = run(t, root, "solution", "4.1", "--yes")
	assert.NotContains(t, stderr, "state", "the solution verb reads it too")
	assert.Contains(t, []int{0, 1}, code)
}

func writeState(t *testing.T, root, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(root, ".workshop"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, ".workshop", "state.json"), []byte(content), 0o644))
}

func TestShowRendersPlainWhenNotATerminal(t *testing.T) {
	root := fixtureRepo(t)
	code, out, _ := run(t, root, "show", "2")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Stage 2 overview")
	assert.Contains(t, out, "Next: step 2.1 (workshop show 2 1)")
	assert.NotContains(t, out, "\x1b[", "plain text has no escape codes")
	assert.NotContains(t, out, "teaches spans.   ", "plain text is not padded to the wrap width")
	assert.NotContains(t, out, "**", "plain text shows no emphasis markers")

	for _, ref := range []string{"1", "2.1"} {
		code, out, _ = run(t, root, "show", "2", ref)
		require.Equal(t, 0, code)
		assert.Contains(t, out, "Step 2.1")
		assert.Contains(t, out, "Next: step 2.2 (workshop show 2 2)   ·   Stuck? exercise 2.1 (workshop hint 2.1)\n")
	}
	for _, ref := range []string{"2", "2.2"} {
		code, out, _ = run(t, root, "show", "2", ref)
		require.Equal(t, 0, code)
		assert.Contains(t, out, "Previous: step 2.1 (workshop show 2 1)\nChecked by workshop check 2: check api, check flush\n")
	}
}

// TestShowWrapsProseNeverCode: prose wraps at --width, else the terminal's
// width, else COLUMNS; the line of code comes out whole every time.
func TestShowWrapsProseNeverCode(t *testing.T) {
	root := fixtureRepo(t)
	t.Setenv("NO_COLOR", "")
	t.Setenv("GLAMOUR_STYLE", "")
	show := func(env *Env, args ...string) string {
		var out, errb bytes.Buffer
		env.Stdout, env.Stderr, env.Dir = &out, &errb, root
		code := Main(append([]string{"show", "1", "2"}, args...), env)
		require.Equal(t, 0, code, errb.String())
		return out.String()
	}
	check := func(out string, width int) {
		t.Helper()
		var lines []string
		for l := range strings.SplitSeq(xansi.Strip(out), "\n") {
			lines = append(lines, strings.TrimRight(l, " "))
		}
		assert.Contains(t, lines, "    "+longCodeLine, "the code line is whole, unpadded, on a line of its own")
		for _, l := range lines {
			if strings.Contains(l, longCodeLine) || strings.HasPrefix(l, "Previous:") || strings.HasPrefix(l, "Checked by") {
				continue
			}
			assert.LessOrEqual(t, xansi.StringWidth(l), width, "prose wraps at %d: %q", width, l)
		}
		assert.Contains(t, strings.Join(strings.Fields(strings.Join(lines, " ")), " "), longProse, "the prose is all there")
	}
	t.Setenv("COLUMNS", "50")
	check(show(&Env{}), 50)                          // a pipe: COLUMNS
	check(show(&Env{}, "--width", "36"), 36)         // --width wins
	check(show(&Env{Terminal: true, Width: 64}), 64) // a terminal: its width
	check(show(&Env{Terminal: true, Width: 64}, "--width", "44"), 44)
	t.Setenv("COLUMNS", "")
	check(show(&Env{}), lesson.DefaultWidth)

	code, _, stderr := run(t, root, "show", "1", "2", "--width", "5")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--width 5 is too narrow; at least 20")
}

func TestShowColourSwitch(t *testing.T) {
	root := fixtureRepo(t)
	render := func(terminal bool, args ...string) string {
		var out, errb bytes.Buffer
		code := Main(append([]string{"show", "1", "1"}, args...), &Env{Stdout: &out, Stderr: &errb, Dir: root, Terminal: terminal, Width: 100})
		require.Equal(t, 0, code, errb.String())
		return out.String()
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("GLAMOUR_STYLE", "")
	assert.Contains(t, render(true), "\x1b[", "a terminal gets colour")
	assert.NotContains(t, render(false), "\x1b[", "a pipe gets plain text")
	assert.NotContains(t, render(true, "--style", "notty"), "\x1b[", "an explicit style wins")
	t.Setenv("NO_COLOR", "1")
	assert.NotContains(t, render(true), "\x1b[", "NO_COLOR turns colour off")
}

func TestDiffBetweenStages(t *testing.T) {
	root := fixtureRepo(t)
	// What a check or `workshop pack` built is no part of the stage.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "stages", "stage3", "bin", "linux_amd64"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "stages", "stage3", "bin", "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	code, out, _ := run(t, root, "diff", "3")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "What stage 3 adds to stage 2")
	assert.Contains(t, out, "app/extra.go")
	assert.Contains(t, out, "(added)")
	assert.Contains(t, out, "-const stage = 2")
	assert.Contains(t, out, "+const stage = 3")
	assert.NotContains(t, out, "stages/stage2/internal", "module paths are renamed before comparing")
	assert.NotContains(t, out, "main_test.go", "tests are left out by default")
	assert.NotContains(t, out, "lesson", "the lesson is not part of the diff")
	assert.NotContains(t, out, "Dockerfile", "nor are builds")

	_, out, _ = run(t, root, "diff", "3", "--stat")
	assert.Contains(t, out, "2 files changed, 4 insertions(+), 1 deletions(-)")
	assert.NotContains(t, out, "@@")

	_, out, _ = run(t, root, "diff", "3", "--tests", "app/main_test.go")
	assert.Contains(t, out, "+// test 3")

	_, out, _ = run(t, root, "diff", "4", "--stat")
	assert.Contains(t, out, "1 files changed", "stage 4 only changes main.go")

	_, out, _ = run(t, root, "diff", "1", "--stat")
	assert.Contains(t, out, "Stage 1 is the start")
	assert.Contains(t, out, "(added)")
}

func TestDiffColour(t *testing.T) {
	root := fixtureRepo(t)
	t.Setenv("NO_COLOR", "")
	var out bytes.Buffer
	code := Main([]string{"diff", "3"}, &Env{Stdout: &out, Stderr: &out, Dir: root, Terminal: true})
	require.Equal(t, 0, code)
	assert.Contains(t, out.String(), "\x1b[32m+const stage = 3\x1b[0m")
	assert.Contains(t, out.String(), "\x1b[31m-const stage = 2\x1b[0m")
}

func TestDiffMine(t *testing.T) {
	root := fixtureRepo(t)
	code, _, stderr := run(t, root, "diff", "2", "--mine")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no exercise for stage 2")

	ex := filepath.Join(root, "exercises", "stage2", "app")
	require.NoError(t, os.MkdirAll(ex, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ex, "main.go"),
		[]byte("package main\n\nimport _ \"example.com/exercises/stage2/internal\"\n\n// TODO (exercise 2.1)\n\nfunc main() {}\n"), 0o644))
	code, out, _ := run(t, root, "diff", "2", "--mine")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "What your exercise of stage 2 lacks")
	assert.Contains(t, out, "-// TODO (exercise 2.1)")
	assert.Contains(t, out, "+const stage = 2")
	assert.NotContains(t, out, "-import", "the exercise module path is renamed")
}

func TestHintRevealsOneAtATime(t *testing.T) {
	root := fixtureRepo(t)
	_, out, _ := run(t, root, "hint", "4.1", "--all")
	assert.Contains(t, out, "No hint revealed yet")

	for i := 1; i <= 3; i++ {
		code, out, _ := run(t, root, "hint", "4.1")
		require.Equal(t, 0, code)
		assert.Contains(t, out, "Hint "+strconv.Itoa(i)+" of 3:")
		assert.Contains(t, out, []string{"first", "second", "third"}[i-1]+" hint 4")
		if i > 1 {
			assert.NotContains(t, out, "first hint 4", "only the new hint is shown")
		}
	}
	_, out, _ = run(t, root, "hint", "4.1", "--width", "30")
	assert.Contains(t, out, "Hint 3 of 3:")
	assert.Contains(t, out, "\n    "+longCodeLine+"\n", "the code of a hint comes out whole, however narrow the prose")
	assert.Contains(t, out, "That was the last hint")
	assert.Contains(t, out, "Exercise 4.1: Do the thing\nWrite it in app/main.go; step 4.1 (workshop show 4 1) teaches it.\n")
	assert.Contains(t, out, "Done when these pass, in exercises/stage4:\n  go test -run '^(TestMore|TestOther|TestThing)$' ./app/ ./internal/x/\n")

	_, out, _ = run(t, root, "hint", "4.1", "--all")
	assert.Contains(t, out, "first hint 4")
	assert.Contains(t, out, "third hint 4")

	_, out, _ = run(t, root, "hint", "3.1")
	assert.Contains(t, out, "Hint 1 of 3:", "each exercise has its own count")
}

func TestDoctorReportsPortsAndRuntime(t *testing.T) {
	// Hold one of the workshop's ports so doctor must report it taken.
	ln, err := net.Listen("tcp", ":8190")
	if err != nil {
		t.Skipf("port 8190 is already in use on this machine: %v", err)
	}
	defer ln.Close()

	code, out, _ := run(t, fixtureRepo(t), "doctor")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "go       ok       go version go")
	assert.Regexp(t, `check    runtime  (docker|local)`, out)
	assert.Regexp(t, `port 8190  TAKEN    telemetry viewer — held by process \S+ \(pid \d+\)|port 8190  TAKEN    telemetry viewer — held by another program`, out)
	assert.Contains(t, out, "port(s) taken")
}
