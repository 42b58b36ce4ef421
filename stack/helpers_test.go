package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// stagePorts is the port table of SPEC §3 (stage → service → port), as the
// workshop's stage package holds it.
var stagePorts = func() map[int]map[string]int {
	table := map[int]map[string]int{}
	for n := 1; ; n++ {
		services, err := stage.Layout(n)
		if err != nil {
			return table
		}
		table[n] = map[string]int{}
		for _, s := range services {
			table[n][s.Name] = s.Port
		}
	}
}()

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stage.Root(".")
	require.NoError(t, err)
	return root
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := stage.FreePort()
	require.NoError(t, err)
	return port
}

// inCI is true when a missing tool must fail a test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips with a clear message, or fails when CI=true.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("%s (CI=true: this must work here)", msg)
	}
	t.Skip(msg + " (set CI=true to make this a failure)")
}

// composeCmd is the compose tool: `docker compose` when the plugin works,
// else docker-compose (v1). Nil when neither does.
func composeCmd() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil && exec.Command(p, "version").Run() == nil {
		return []string{p}
	}
	return nil
}

// requireCompose returns the compose tool or skips (fails in CI).
func requireCompose(t *testing.T) []string {
	t.Helper()
	c := composeCmd()
	if c == nil {
		skipOrFail(t, "no compose tool: neither `docker compose` nor `docker-compose` works")
	}
	return c
}

// requireEngine skips (fails in CI) without a reachable Docker engine.
func requireEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		skipOrFail(t, "no Docker engine: docker info: %v: %s", err, strings.TrimSpace(string(out)))
	}
}

// run runs a command with extra environment and returns its combined output.
func run(ctx context.Context, dir string, env []string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out.String())
	}
	return out.String(), err
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningStage is a stage's services running here as processes.
type runningStage struct {
	n    int
	urls map[string]string // service → base URL
}

// startStage builds stage n's services on the host and runs them on free
// ports, wired to each other, with no roll delay (the workshop's own local
// runner). Traces go to a port where nothing listens (the SDK stays on, so
// histograms carry exemplars); the processes are killed at the end of the
// test.
func startStage(t *testing.T, n int) *runningStage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := &lockedBuffer{}
	sys, err := stage.StartLocal(ctx, stage.LocalOptions{
		Dir: stage.Dir(repoRoot(t), n), Stage: n, FreePorts: true,
		Env: []string{"ROLL_MAX_DELAY=0", fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", freePort(t))},
		Output: func(service string, line []byte) {
			_, _ = fmt.Fprintf(out, "%s | %s\n", service, line)
		},
	})
	require.NoError(t, err, "stage %d:\n%s", n, out)
	t.Cleanup(func() {
		// Killed, not drained: the final flush would only retry the dead endpoint.
		killNow, cancel := context.WithCancel(context.Background())
		cancel()
		_ = sys.Stop(killNow)
		if t.Failed() {
			t.Logf("stage %d output:\n%s", n, out)
		}
	})
	s := &runningStage{n: n, urls: map[string]string{}}
	for _, svc := range sys.Services() {
		s.urls[svc.Name] = sys.URL(svc.Name)
	}
	return s
}

// raceEnabled is set by race_test.go under -race: the workshop command is
// then built with -race too, which shares its compiled packages with the
// workshop module's own race tests.
var raceEnabled bool

// workshopCLI is the workshop command, built once for the tests that run
// what the Makefile runs (`workshop pack` for make stageN-docker).
var workshopCLI struct {
	once      sync.Once
	dir, path string
	err       error
}

// runWorkshop runs the workshop command in the checkout and returns its
// output.
func runWorkshop(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	root := repoRoot(t)
	workshopCLI.once.Do(func() {
		// A context of its own: a cold build cache takes minutes here, and
		// the caller's budget is for its own command.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		if workshopCLI.dir, workshopCLI.err = os.MkdirTemp("", "stack-test-workshop-"); workshopCLI.err != nil {
			return
		}
		workshopCLI.path = filepath.Join(workshopCLI.dir, "workshop")
		argv := []string{"go", "build"}
		if raceEnabled {
			argv = append(argv, "-race")
		}
		_, workshopCLI.err = run(ctx, filepath.Join(root, "workshop"), nil, append(argv, "-o", workshopCLI.path, "./cmd/workshop")...)
	})
	require.NoError(t, workshopCLI.err, "building the workshop command")
	out, err := run(ctx, root, nil, append([]string{workshopCLI.path}, args...)...)
	require.NoError(t, err)
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if workshopCLI.dir != "" {
		_ = os.RemoveAll(workshopCLI.dir)
	}
	os.Exit(code)
}
