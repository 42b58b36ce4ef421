package main

import (
	"bufio"
	"encoding/hex"
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
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
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
				port: 8102, diceRollerURL: "http://localhost:8101",
				backendTimeout: 5 * time.Second, shutdownTimeout: 10 * time.Second,
			},
		},
		{
			name: "overrides",
			env: map[string]string{
				"PORT": "9102", "DICE_ROLLER_URL": "http://dice-roller:8101", "BACKEND_TIMEOUT": "750ms", "SHUTDOWN_TIMEOUT": "3s",
			},
			want: config{
				port: 9102, diceRollerURL: "http://dice-roller:8101",
				backendTimeout: 750 * time.Millisecond, shutdownTimeout: 3 * time.Second,
			},
		},
		{name: "bad port", env: map[string]string{"PORT": "abc"}, wantErr: `invalid PORT "abc"`},
		{name: "bad backend timeout", env: map[string]string{"BACKEND_TIMEOUT": "5"}, wantErr: `invalid BACKEND_TIMEOUT "5"`},
		{name: "bad shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, wantErr: `invalid SHUTDOWN_TIMEOUT "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PORT", "DICE_ROLLER_URL", "BACKEND_TIMEOUT", "SHUTDOWN_TIMEOUT"} {
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

// TestMain removes the built binary, and fails the run if a test left a
// goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildBinary compiles the frontend once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("signals and exit codes are tested on Unix")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "frontend-test")
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
			"PORT", "DICE_ROLLER_URL", "BACKEND_TIMEOUT", "SHUTDOWN_TIMEOUT",
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

// process is a running frontend binary.
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
		{"BACKEND_TIMEOUT=bogus", `BACKEND_TIMEOUT "bogus": want a Go duration such as 500ms or 1s`},
		{"BACKEND_TIMEOUT=-5s", `BACKEND_TIMEOUT "-5s"`},
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
			assert.True(t, strings.HasPrefix(lines[0], "frontend: invalid "), lines[0])
			assert.Contains(t, lines[0], tt.mentions)
			assert.Contains(t, lines[0], "valid", "the line says what would be valid")
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
	spans    []*tracepb.Span
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
				s.spans = append(s.spans, ss.GetSpans()...)
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

func (s *otlpSink) received() (posts int, spans []*tracepb.Span, services []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, slices.Clone(s.spans), slices.Clone(s.services)
}

// TestBinaryRelaysOneTraceAndFlushesItOnSIGTERM runs the real frontend in
// front of a fake dice-roller: the call carries the trace, and the spans
// reach the collector when the frontend stops.
func TestBinaryRelaysOneTraceAndFlushesItOnSIGTERM(t *testing.T) {
	roller := newFakeDiceRoller(t, nil)
	sink := newOTLPSink(t)
	port := freePort(t)
	p := startProcess(t,
		"PORT="+strconv.Itoa(port),
		"DICE_ROLLER_URL="+roller.URL,
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
	}, 10*time.Second, 20*time.Millisecond, "frontend never came up; stderr: %s", &p.stderr)

	resp, err := http.Get(base + "/roll?die=risky")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"roll": 4}`, string(body))
	calls := roller.Calls()
	require.Len(t, calls, 1)
	remote := traceparentOf(calls[0].Traceparent)
	require.True(t, remote.IsValid(), "the real process sends a traceparent (the global propagator is set): %q",
		calls[0].Traceparent)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, exitCode(t, p.wait(t, 15*time.Second)), "stderr: %s", &p.stderr)

	var messages []string
	for _, l := range p.lines() {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line), "stdout line is not JSON: %s", l)
		messages = append(messages, fmt.Sprint(line["message"]))
	}
	assert.Equal(t, "frontend started", messages[0])
	assert.Contains(t, messages, "roll requested")
	assert.Contains(t, messages, "backend answered")
	assert.Equal(t, "frontend stopped", messages[len(messages)-1])
	assert.NotContains(t, messages, "telemetry flush incomplete")

	// The spans of the roll were flushed at shutdown: the server span, and
	// its child the client span, which is the parent the dice-roller was given.
	_, spans, services := sink.received()
	var server, client *tracepb.Span
	for _, s := range spans {
		if s.GetName() != "GET /roll" || hex.EncodeToString(s.GetTraceId()) != remote.TraceID().String() {
			continue
		}
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = s
		}
	}
	require.NotNil(t, server, "the server span reached the collector; got %d spans", len(spans))
	require.NotNil(t, client, "the client span reached the collector")
	assert.Equal(t, remote.SpanID().String(), hex.EncodeToString(client.GetSpanId()))
	assert.Equal(t, server.GetSpanId(), client.GetParentSpanId())
	assert.Empty(t, server.GetParentSpanId(), "the trace starts in the frontend")
	assert.Equal(t, []string{"frontend"}, uniqueValues(services))
}

func uniqueValues(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
