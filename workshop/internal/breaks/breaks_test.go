package breaks

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func stageDir(t *testing.T, n int) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return repo.StageDir(root, n)
}

func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range All {
		assert.False(t, seen[b.Name], "duplicate break %s", b.Name)
		seen[b.Name] = true
		assert.NotEmpty(t, b.Summary, b.Name)
		assert.NotContains(t, b.Summary, "\n", "%s: the summary is one line", b.Name)
		assert.NotEmpty(t, b.LookFor, b.Name)
		assert.NotEmpty(t, b.Edits, b.Name)
		assert.IsIncreasing(t, b.Stages, b.Name)
		for _, n := range b.Stages {
			assert.True(t, n >= 1 && n <= repo.Stages, "%s: stage %d", b.Name, n)
		}
	}
}

func TestFind(t *testing.T) {
	b, err := Find("background-context")
	require.NoError(t, err)
	assert.Equal(t, []int{4}, b.Stages)
	assert.Equal(t, "stage 4", b.StageRange())

	b, err = Find("no-propagator")
	require.NoError(t, err)
	assert.Equal(t, "stages 2–4", b.StageRange())

	_, err = Find("no-such-break")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no break "no-such-break"`)
	for _, name := range Names() {
		assert.Contains(t, err.Error(), name)
	}
}

// TestEveryBreakAppliesToItsStages applies each break to a copy of each stage
// it lists, checks that the replaced text is gone, and compiles every
// package of the copy on its own (GOWORK=off), as `workshop up` builds it.
func TestEveryBreakAppliesToItsStages(t *testing.T) {
	for _, b := range All {
		for _, n := range b.Stages {
			t.Run(fmt.Sprintf("%s/stage%d", b.Name, n), func(t *testing.T) {
				t.Parallel()
				dst := filepath.Join(t.TempDir(), "stage")
				require.NoError(t, Apply(stageDir(t, n), dst, b, n))
				for _, e := range b.Edits {
					data, err := os.ReadFile(filepath.Join(dst, e.File))
					require.NoError(t, err)
					assert.NotContains(t, string(data), e.Old, "%s still holds the original text", e.File)
					assert.Contains(t, string(data), e.New)
				}
				compiles(t, dst)
			})
		}
	}
}

// compiles runs the compiler over every package of the module at dir: `go
// build ./...` without the link step, which would cost seconds per service
// and tells nothing more about a text edit. -trimpath makes the compiled
// packages cacheable across temporary folders.
func compiles(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-trimpath", "-export", "-f", "{{.ImportPath}}", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the broken copy does not compile:\n%s", out)
}

func TestApplyRefusesOtherStages(t *testing.T) {
	b, err := Find("background-context")
	require.NoError(t, err)
	err = Apply(stageDir(t, 2), filepath.Join(t.TempDir(), "x"), b, 2)
	assert.EqualError(t, err, "break background-context applies to stage 4, not stage 2")
}

func TestApplyFailsLoudlyWhenTheTextIsMissing(t *testing.T) {
	src := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(src, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("go.mod", "module example.com/m\n")
	write("a/a.go", "package a\n\nvar x = 1\nvar y = 1\n")
	write("a/a_test.go", "package a\n")
	write("lesson/01.md", "# step\n")

	for _, tt := range []struct{ old, want string }{
		{"var z = 1\n", "break demo: a/a.go: the text to replace occurs 0 times, want exactly once"},
		{" = 1\n", "break demo: a/a.go: the text to replace occurs 2 times, want exactly once"},
	} {
		b := Break{Name: "demo", Stages: []int{1}, Edits: []Edit{{File: "a/a.go", Old: tt.old, New: "var z = 2\n"}}}
		err := Apply(src, filepath.Join(t.TempDir(), "dst"), b, 1)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}

	b := Break{Name: "demo", Stages: []int{1}, Edits: []Edit{{File: "a/a.go", Old: "var x = 1\n", New: "var x = 2\n"}}}
	dst := filepath.Join(t.TempDir(), "dst")
	require.NoError(t, Apply(src, dst, b, 1))
	data, err := os.ReadFile(filepath.Join(dst, "a/a.go"))
	require.NoError(t, err)
	assert.Equal(t, "package a\n\nvar x = 2\nvar y = 1\n", string(data))
	assert.NoFileExists(t, filepath.Join(dst, "a/a_test.go"), "tests are not copied")
	assert.NoDirExists(t, filepath.Join(dst, "lesson"), "the lesson is not copied")

	assert.ErrorContains(t, Apply(src, dst, b, 1), "not empty", "an existing copy is not overwritten")

	write("a/a.go", "package a\r\n\r\nvar x = 1\r\nvar y = 1\r\n") // a Windows checkout
	dst = filepath.Join(t.TempDir(), "dst")
	require.NoError(t, Apply(src, dst, b, 1))
	data, err = os.ReadFile(filepath.Join(dst, "a/a.go"))
	require.NoError(t, err)
	assert.Equal(t, "package a\r\n\r\nvar x = 2\r\nvar y = 1\r\n", string(data))
	assert.ErrorContains(t, Apply(t.TempDir(), filepath.Join(t.TempDir(), "d"), b, 1), "no go.mod")
}

// The behaviour proofs run stage 4 for real, reference and broken, and look
// at the spans they send: each break must break what it says it breaks.

// observed is what a run of stage 4 sent for one /roll and one /roll-async
// through the frontend.
type observed struct {
	frontendRoll, rollerRoll, rollerAsync otlp.Span
	asyncRolls                            []otlp.Span
}

func runStage4(t *testing.T, breakName string) observed {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs stage 4")
	}
	dir := stageDir(t, 4)
	if breakName != "" {
		b, err := Find(breakName)
		require.NoError(t, err)
		dir = filepath.Join(t.TempDir(), "stage4")
		require.NoError(t, Apply(stageDir(t, 4), dir, b, 4))
	}

	store := otlp.NewStore(otlp.DefaultLimits)
	ln, err := otlp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- otlp.Serve(ctx, ln, otlp.NewReceiver(store)) }()
	t.Cleanup(func() { cancel(); <-served })

	sys, err := stage.StartLocal(t.Context(), stage.LocalOptions{
		Dir: dir, Stage: 4, FreePorts: true,
		Env: []string{"ROLL_MAX_DELAY=20ms", "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + ln.Addr().String()},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sys.Stop(context.Background())) })

	for _, path := range []string{"/roll?die=fair", "/roll-async?die=fair&times=3"} {
		resp, err := http.Get(sys.URL("frontend") + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	var o observed
	wait, cancelWait := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancelWait()
	err = store.WaitFor(wait, func(s *otlp.Store) bool {
		o = observed{}
		for _, tr := range s.Traces(0) {
			for _, sp := range tr.Spans {
				switch {
				case sp.Kind == "Server" && sp.Name == "GET /roll" && sp.Service == "frontend":
					o.frontendRoll = sp
				case sp.Kind == "Server" && sp.Name == "GET /roll" && sp.Service == "dice-roller":
					o.rollerRoll = sp
				case sp.Kind == "Server" && sp.Name == "GET /roll-async" && sp.Service == "dice-roller":
					o.rollerAsync = sp
				case strings.HasPrefix(sp.Name, "async_roll_"):
					o.asyncRolls = append(o.asyncRolls, sp)
				}
			}
		}
		return o.frontendRoll.SpanID != "" && o.rollerRoll.SpanID != "" && o.rollerAsync.SpanID != "" && len(o.asyncRolls) == 3
	})
	require.NoError(t, err, "the spans of both requests did not all arrive; got %+v", o)
	return o
}

func TestReferenceKeepsOneTrace(t *testing.T) {
	t.Parallel()
	o := runStage4(t, "")
	assert.Equal(t, o.frontendRoll.TraceID, o.rollerRoll.TraceID, "frontend → dice-roller is one trace")
	assert.NotEmpty(t, o.rollerRoll.ParentSpanID, "the dice-roller's span continues the frontend's call")
	for _, sp := range o.asyncRolls {
		assert.Equal(t, o.rollerAsync.TraceID, sp.TraceID, "%s is in the batch's trace", sp.Name)
		assert.NotEmpty(t, sp.ParentSpanID, sp.Name)
	}
}

func TestNoPropagatorSplitsTraces(t *testing.T) {
	t.Parallel()
	o := runStage4(t, "no-propagator")
	assert.NotEqual(t, o.frontendRoll.TraceID, o.rollerRoll.TraceID, "the trace should split at the dice-roller")
	assert.Empty(t, o.rollerRoll.ParentSpanID, "the dice-roller's GET /roll is the root of a trace of its own")
}

func TestBackgroundContextOrphansAsyncRolls(t *testing.T) {
	t.Parallel()
	o := runStage4(t, "background-context")
	assert.Equal(t, o.frontendRoll.TraceID, o.rollerRoll.TraceID, "only the goroutines are broken")
	traces := map[string]bool{}
	for _, sp := range o.asyncRolls {
		assert.Empty(t, sp.ParentSpanID, "%s is a root", sp.Name)
		assert.NotEqual(t, o.rollerAsync.TraceID, sp.TraceID, "%s left the batch's trace", sp.Name)
		traces[sp.TraceID] = true
	}
	assert.Len(t, traces, 3, "each async roll is a trace of its own")
}
