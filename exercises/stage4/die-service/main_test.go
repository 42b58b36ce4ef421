package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below run the real binary, the way compose and `workshop up` do.

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary compiles this service once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("signals and exit codes are tested on Unix")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "die-service-test")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(binDir, serviceName)
		args := []string{"build", "-o", binary}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// serviceEnv is the test process's environment without the variables the
// service reads, plus env.
func serviceEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "OTEL_"), name == "PORT", name == "DIE_SPECS_FILE", name == "SHUTDOWN_TIMEOUT":
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestBinaryRefusesBadConfig(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	badSpecs := filepath.Join(dir, "dice.json")
	require.NoError(t, os.WriteFile(badSpecs, []byte(`{"fair": {"faces": [1,2,3,4,5,6]}, "weird": {"faces": [1], "error_rate": 7}}`), 0o644))
	noFaces := filepath.Join(dir, "nofaces.json")
	require.NoError(t, os.WriteFile(noFaces, []byte(`{"blank": {"faces": []}}`), 0o644))

	tests := []struct {
		name  string
		env   []string
		names []string // what the one line must mention
	}{
		{"error rate out of range", []string{"DIE_SPECS_FILE=" + badSpecs}, []string{`"weird"`, badSpecs}},
		{"no faces", []string{"DIE_SPECS_FILE=" + noFaces}, []string{`"blank"`, "no faces"}},
		{"missing file", []string{"DIE_SPECS_FILE=" + filepath.Join(dir, "nope.json")}, []string{"DIE_SPECS_FILE", "nope.json"}},
		{"bad port", []string{"PORT=abc"}, []string{"PORT", `"abc"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = serviceEnv(append(tt.env, "OTEL_SDK_DISABLED=true")...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			require.NoError(t, cmd.Start())
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("a misconfigured service must not start")
			}
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, 2, exitErr.ExitCode())
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			require.Len(t, lines, 1, "one clear line: %q", stderr.String())
			assert.True(t, strings.HasPrefix(lines[0], "die-service: "), lines[0])
			for _, s := range tt.names {
				assert.Contains(t, lines[0], s)
			}
			assert.Empty(t, stdout.String(), "nothing started, nothing logged")
		})
	}
}

func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = serviceEnv("PORT="+strconv.Itoa(port), "OTEL_SDK_DISABLED=true")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	var lines []string
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "die-service never came up; stderr: %s", &stderr)

	resp, err := http.Get(base + "/dice")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.JSONEq(t, `{"identifiers":["fair","risky"]}`, string(body))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "SIGTERM is a clean exit; stderr: %s", &stderr)
	case <-time.After(15 * time.Second):
		t.Fatal("die-service did not stop on SIGTERM")
	}

	var messages []string
	for _, l := range lines {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line), "stdout line is not JSON: %s", l)
		messages = append(messages, fmt.Sprint(line["message"]))
		if line["message"] == "die-service started" {
			assert.Equal(t, float64(2), line["dice_loaded"])
			assert.Equal(t, []any{"fair", "risky"}, line["identifiers"])
		}
	}
	assert.Subset(t, messages, []string{"die-service started", "die list requested", "shutting down", "die-service stopped"})
	if t.Failed() {
		t.Logf("stdout:\n%s", strings.Join(lines, "\n"))
	}
}
