package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			want: config{
				port: 8100, maxDelay: time.Second, shutdownTimeout: 10 * time.Second,
			},
		},
		{
			name: "overrides",
			env: map[string]string{
				"PORT": "9100", "ROLL_MAX_DELAY": "0", "SHUTDOWN_TIMEOUT": "3s",
			},
			want: config{
				port: 9100, maxDelay: 0, shutdownTimeout: 3 * time.Second,
			},
		},
		{name: "bad port", env: map[string]string{"PORT": "abc"}, wantErr: `invalid PORT "abc"`},
		{name: "bad delay", env: map[string]string{"ROLL_MAX_DELAY": "bogus"}, wantErr: `invalid ROLL_MAX_DELAY "bogus"`},
		{name: "negative delay", env: map[string]string{"ROLL_MAX_DELAY": "-1s"}, wantErr: `invalid ROLL_MAX_DELAY "-1s"`},
		{name: "bad shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, wantErr: `invalid SHUTDOWN_TIMEOUT "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PORT", "ROLL_MAX_DELAY", "SHUTDOWN_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
			}
			got, err := loadConfig()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

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

// buildBinary compiles the dice-roller once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("signals and exit codes are tested on Unix")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "dice-roller-test")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(binDir, serviceName)
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
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
		if strings.HasPrefix(name, "OTEL_") || slices.Contains([]string{
			"PORT", "ROLL_MAX_DELAY", "SHUTDOWN_TIMEOUT",
		}, name) {
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

// process is a running dice-roller binary.
type process struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	stdout []string
	stderr strings.Builder
}

func startProcess(t *testing.T, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(buildBinary(t)), exited: make(chan error, 1)}
	p.cmd.Env = serviceEnv(env...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout = append(p.stdout, sc.Text())
			p.mu.Unlock()
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait returns the exit error, failing the test if the process runs on.
func (p *process) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		t.Fatalf("process still running after %v; stdout:\n%s", limit, strings.Join(p.lines(), "\n"))
		return nil
	}
}

func (p *process) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stdout)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	return exitErr.ExitCode()
}

func TestBinaryRefusesBadConfig(t *testing.T) {
	tests := []struct {
		env      string
		mentions string
	}{
		{"ROLL_MAX_DELAY=bogus", `ROLL_MAX_DELAY "bogus"`},
		{"ROLL_MAX_DELAY=-5s", `ROLL_MAX_DELAY "-5s"`},
		{"PORT=abc", `PORT "abc"`},
		{"PORT=70000", `PORT "70000"`},
		{"SHUTDOWN_TIMEOUT=later", `SHUTDOWN_TIMEOUT "later"`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			env := []string{"PORT=" + strconv.Itoa(freePort(t)), "OTEL_SDK_DISABLED=true", tt.env}
			p := startProcess(t, env...)
			err := p.wait(t, 10*time.Second)
			assert.Equal(t, 2, exitCode(t, err), "a config error exits with 2")
			stderr := p.stderr.String()
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			require.Len(t, lines, 1, "one clear line: %q", stderr)
			assert.True(t, strings.HasPrefix(lines[0], "dice-roller: invalid "), lines[0])
			assert.Contains(t, lines[0], tt.mentions)
			assert.Empty(t, p.lines(), "nothing started, nothing logged")
		})
	}
}

func TestBinaryReportsABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	p := startProcess(t, "PORT="+strconv.Itoa(port), "OTEL_SDK_DISABLED=true")
	assert.Equal(t, 1, exitCode(t, p.wait(t, 10*time.Second)))
	out := strings.Join(p.lines(), "\n")
	assert.Contains(t, out, `"level":"ERROR"`)
	assert.Contains(t, out, "set PORT to change it", "the log says how to fix it")
}

// otlpSink is a minimal OTLP/HTTP trace receiver.
type otlpSink struct {
	*httptest.Server
	mu       sync.Mutex
	posts    int
	spans    []string
	services []string
}

func newOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.posts++
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					s.services = append(s.services, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, span := range ss.GetSpans() {
					s.spans = append(s.spans, span.GetName())
				}
			}
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpSink) received() (posts int, spans, services []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, slices.Clone(s.spans), slices.Clone(s.services)
}

func TestBinaryFinishesInFlightRollsOnSIGTERMAndFlushesSpans(t *testing.T) {
	// Several rolls, so that at least one is surely still waiting out its
	// random delay (uniform in [0, 1s)) when the signal arrives.
	const rolls = 5
	sink := newOTLPSink(t)
	port := freePort(t)
	p := startProcess(t,
		"PORT="+strconv.Itoa(port),
		"ROLL_MAX_DELAY=1s",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL,
	)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "dice-roller never came up; stderr: %s", &p.stderr)

	type result struct {
		status int
		roll   int
		err    error
	}
	answered := make(chan result, rolls)
	for range rolls {
		go func() {
			resp, err := http.Get(base + "/roll?die=fair")
			if err != nil {
				answered <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var b map[string]int
			err = json.NewDecoder(resp.Body).Decode(&b)
			answered <- result{status: resp.StatusCode, roll: b["roll"], err: err}
		}()
	}

	// Once every request is logged, the rolls are waiting their random delays:
	// that is when the signal arrives.
	require.Eventually(t, func() bool { return strings.Count(strings.Join(p.lines(), "\n"), "roll request received") == rolls },
		10*time.Second, time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))

	for range rolls {
		r := <-answered
		require.NoError(t, r.err, "the in-flight request must complete")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, []int{1, 2, 3, 4, 5, 6}, r.roll)
	}

	assert.Equal(t, 0, exitCode(t, p.wait(t, 15*time.Second)), "stderr: %s", &p.stderr)

	var messages []string
	for _, l := range p.lines() {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line), "stdout line is not JSON: %s", l)
		messages = append(messages, fmt.Sprint(line["message"]))
		if line["message"] == "dice-roller started" {
			assert.Equal(t, float64(port), line["port"])
			assert.Equal(t, "1s", line["roll_max_delay"])
		}
	}
	shutting := slices.Index(messages, "shutting down")
	require.NotEqual(t, -1, shutting, "messages: %v", messages)
	assert.Equal(t, rolls, strings.Count(strings.Join(messages, "\n"), "roll result"), "messages: %v", messages)
	assert.Contains(t, messages[shutting:], "roll result", "a roll was still in flight when the shutdown began")
	assert.Equal(t, "dice-roller stopped", messages[len(messages)-1])
	assert.Equal(t, "dice-roller started", messages[0])

	posts, spans, services := sink.received()
	t.Logf("the sink received %d POSTs with %d spans", posts, len(spans))
	assert.Positive(t, posts)
	assert.Equal(t, slices.Repeat([]string{"GET /roll"}, rolls), spans, "every roll's span, flushed before the exit")
	assert.Equal(t, []string{"dice-roller"}, uniqueValues(services))
}
