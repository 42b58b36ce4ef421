package stack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
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
	port, err := freeTCPPort()
	require.NoError(t, err)
	return port
}

// freeTCPPort is a loopback port nothing listens on right now.
func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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
