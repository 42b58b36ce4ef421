package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/go-o11y-workshop/kit/stack/internal/stagebuild"
)

// stagePorts is the port table of SPEC §3: stage → service → port.
var stagePorts = map[int]map[string]int{
	1: {"dice-roller": 8100},
	2: {"dice-roller": 8101, "frontend": 8102},
	3: {"die-service": 8103, "dice-roller": 8104, "frontend": 8105},
	4: {"die-service": 8106, "dice-roller": 8107, "frontend": 8108},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stagebuild.Root(".")
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
// ports, wired to each other, with no roll delay. Traces go to a port where
// nothing listens (the SDK stays on, so histograms carry exemplars); the
// processes are killed at the end of the test.
func startStage(t *testing.T, n int) *runningStage {
	t.Helper()
	root := repoRoot(t)
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(t, stagebuild.Build(ctx, root, n, bin, stagebuild.Options{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}))
	services, err := stagebuild.Services(root, n)
	require.NoError(t, err)

	s := &runningStage{n: n, urls: map[string]string{}}
	ports := map[string]int{}
	for _, svc := range services {
		ports[svc] = freePort(t)
		s.urls[svc] = fmt.Sprintf("http://127.0.0.1:%d", ports[svc])
	}
	env := []string{
		"ROLL_MAX_DELAY=0",
		fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", freePort(t)),
	}
	if u, ok := s.urls["dice-roller"]; ok {
		env = append(env, "DICE_ROLLER_URL="+u)
	}
	if u, ok := s.urls["die-service"]; ok {
		env = append(env, "DIE_SERVICE_URL="+u)
	}
	for _, svc := range services { // die-service first: the others look dice up at startup
		cmd := exec.Command(filepath.Join(bin, svc))
		cmd.Env = append(append(os.Environ(), env...), fmt.Sprintf("PORT=%d", ports[svc]))
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start(), svc)
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("stage %d %s output:\n%s", n, svc, out.String())
			}
		})
		waitHealthy(t, s.urls[svc]+"/healthz", 15*time.Second)
	}
	return s
}

func waitHealthy(t *testing.T, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within %s: %v", url, within, last)
}
