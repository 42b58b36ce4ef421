package stack

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// stagePorts is the port table of SPEC §3 as the workshop declares it
// (workshop/stage): stage → service → port.
var stagePorts = func() map[int]map[string]int {
	out := map[int]map[string]int{}
	for n := 1; ; n++ {
		services, err := stage.Layout(n)
		if err != nil {
			return out
		}
		out[n] = map[string]int{}
		for _, s := range services {
			out[n][s.Name] = s.Port
		}
	}
}()

// stageServices lists the services of stage n, dependencies first.
func stageServices(t *testing.T, n int) []string {
	t.Helper()
	services, err := stage.Layout(n)
	require.NoError(t, err)
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return names
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stage.Root(".")
	require.NoError(t, err)
	return root
}

// scratch is this test binary's temporary folder (the workshop CLI, packed
// stages), removed by TestMain.
var scratch = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "o11y-stack-test-") })

func removeScratch() {
	if dir, err := scratch(); err == nil {
		_ = os.RemoveAll(dir)
	}
}

// workshopCLI builds the workshop CLI once per test binary: the stack packs
// its stages with it, as `make stageN-docker` does (it asks the Docker
// engine for its architecture).
var workshopCLI = sync.OnceValues(func() (string, error) {
	dir, err := scratch()
	if err != nil {
		return "", err
	}
	root, err := stage.Root(".")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "workshop")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := run(ctx, root, nil, "go", "build", "-o", bin, "./workshop/cmd/workshop"); err != nil {
		return "", err
	}
	return bin, nil
})

// packed is stage n's build context as `workshop pack N` writes it (the
// services and the probe for the engine's architecture, the Dockerfile),
// made once per test binary.
type packedStage struct {
	once sync.Once
	dir  string
	arch string // GOARCH of the packed binaries: the engine's
	err  error
}

var packs sync.Map // stage → *packedStage

func packStage(t *testing.T, n int) (dir, arch string) {
	t.Helper()
	v, _ := packs.LoadOrStore(n, &packedStage{})
	p := v.(*packedStage)
	p.once.Do(func() { p.dir, p.arch, p.err = pack(n) })
	require.NoError(t, p.err, "workshop pack %d", n)
	return p.dir, p.arch
}

func pack(n int) (dir, arch string, err error) {
	cli, err := workshopCLI()
	if err != nil {
		return "", "", err
	}
	root, err := stage.Root(".")
	if err != nil {
		return "", "", err
	}
	base, err := scratch()
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(base, "stage"+strconv.Itoa(n))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := run(ctx, root, nil, cli, "pack", strconv.Itoa(n), stage.Dir(root, n), "--out", dir); err != nil {
		return "", "", err
	}
	arch, err = elfArch(filepath.Join(dir, "probe"))
	return dir, arch, err
}

// elfArch is the GOARCH of a Linux binary.
func elfArch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return "", fmt.Errorf("%s: a binary for %s, which the stack's tests do not know", path, f.Machine)
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
