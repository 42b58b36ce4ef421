package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/service"
)

func TestPort(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    int
		wantErr bool
	}{
		{name: "unset gives the default", env: "", want: 8104},
		{name: "a valid port", env: "9000", want: 9000},
		{name: "lowest", env: "1", want: 1},
		{name: "highest", env: "65535", want: 65535},
		{name: "zero", env: "0", wantErr: true},
		{name: "too high", env: "65536", wantErr: true},
		{name: "negative", env: "-80", wantErr: true},
		{name: "not a number", env: "abc", wantErr: true},
		{name: "with a host", env: "localhost:80", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PORT", tt.env)
			got, err := service.Port(8104)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "PORT")
				assert.Contains(t, err.Error(), strconv.Quote(tt.env), "the error quotes the bad value")
				assert.Contains(t, err.Error(), "1 to 65535", "the error names the valid range")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestListenAddrIsLoopbackByDefault: a service run on a laptop answers
// only this machine, not everyone on the wifi; containers ask for every
// interface. The listener's address is what the kernel really bound.
func TestListenAddrIsLoopbackByDefault(t *testing.T) {
	t.Setenv("LISTEN_HOST", "")
	assert.Equal(t, "127.0.0.1:8100", service.ListenAddr(8100))
	ln, err := net.Listen("tcp", service.ListenAddr(0))
	require.NoError(t, err)
	defer ln.Close()
	assert.True(t, ln.Addr().(*net.TCPAddr).IP.IsLoopback(), "bound on %s", ln.Addr())

	t.Setenv("LISTEN_HOST", "0.0.0.0")
	assert.Equal(t, "0.0.0.0:8100", service.ListenAddr(8100))
	t.Setenv("LISTEN_HOST", "::1")
	assert.Equal(t, "[::1]:8100", service.ListenAddr(8100))
}

func TestCutBoundsWhatIsRepeated(t *testing.T) {
	assert.Equal(t, "fair", service.Cut("fair"))
	exact := strings.Repeat("a", service.MaxParamBytes)
	assert.Equal(t, exact, service.Cut(exact))
	cut := service.Cut(strings.Repeat("é", 100<<10)) // 2 bytes each: the cut may fall inside one
	assert.True(t, utf8.ValidString(cut), "cut on a character boundary")
	assert.True(t, strings.HasSuffix(cut, "…"))
	assert.LessOrEqual(t, len(cut), service.MaxParamBytes+len("…"))

	r := httptest.NewRequest(http.MethodGet, "/roll?die="+strings.Repeat("d", 1000), nil)
	assert.Equal(t, strings.Repeat("d", service.MaxParamBytes)+"…", service.Param(r, "die"))
	assert.Empty(t, service.Param(r, "missing"))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    time.Duration
		wantErr bool
	}{
		{name: "unset gives the default", env: "", want: time.Second},
		{name: "zero disables the delay", env: "0", want: 0},
		{name: "milliseconds", env: "250ms", want: 250 * time.Millisecond},
		{name: "compound", env: "1m30s", want: 90 * time.Second},
		{name: "negative", env: "-1s", wantErr: true},
		{name: "no unit", env: "5", wantErr: true},
		{name: "garbage", env: "bogus", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ROLL_MAX_DELAY", tt.env)
			got, err := service.Duration("ROLL_MAX_DELAY", time.Second)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "ROLL_MAX_DELAY", "the error names the variable")
				assert.Contains(t, err.Error(), strconv.Quote(tt.env))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestURL(t *testing.T) {
	t.Setenv("DIE_SERVICE_URL", "")
	assert.Equal(t, "http://localhost:8103", service.URL("DIE_SERVICE_URL", "http://localhost:8103"))
	t.Setenv("DIE_SERVICE_URL", "http://die-service:8103")
	assert.Equal(t, "http://die-service:8103", service.URL("DIE_SERVICE_URL", "http://localhost:8103"))
}

func TestJSONAnswers(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		method     string
		path       string
		wantStatus int
		wantBody   map[string]any
		wantAllow  string
	}{
		{
			name: "WriteJSON",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				service.WriteJSON(w, http.StatusCreated, map[string]int{"roll": 4})
			},
			method:     http.MethodGet,
			path:       "/",
			wantStatus: http.StatusCreated,
			wantBody:   map[string]any{"roll": float64(4)},
		},
		{
			name:       "WriteError",
			handler:    func(w http.ResponseWriter, _ *http.Request) { service.WriteError(w, http.StatusTeapot, "no coffee") },
			method:     http.MethodGet,
			path:       "/",
			wantStatus: http.StatusTeapot,
			wantBody:   map[string]any{"error": "no coffee"},
		},
		{
			name:       "Healthz",
			handler:    service.Healthz,
			method:     http.MethodGet,
			path:       "/healthz",
			wantStatus: http.StatusOK,
			wantBody:   map[string]any{"status": "ok"},
		},
		{
			name:       "NotFound names the valid paths",
			handler:    service.NotFound("/", "/roll"),
			method:     http.MethodGet,
			path:       "/nope?x=1",
			wantStatus: http.StatusNotFound,
			wantBody:   map[string]any{"error": "no route /nope; valid: /, /roll"},
		},
		{
			name:       "MethodNotAllowed names GET",
			handler:    service.MethodNotAllowed,
			method:     http.MethodPost,
			path:       "/roll",
			wantStatus: http.StatusMethodNotAllowed,
			wantBody:   map[string]any{"error": "method POST not allowed; valid: GET"},
			wantAllow:  http.MethodGet,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tt.handler(w, httptest.NewRequest(tt.method, tt.path, nil))
			assert.Equal(t, tt.wantStatus, w.Code)
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, tt.wantAllow, w.Header().Get("Allow"))
			var body map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "body: %s", w.Body)
			assert.Equal(t, tt.wantBody, body)
		})
	}
}

// TestExitOnConfigError runs itself in a child process, because the function
// under test ends the process.
func TestExitOnConfigError(t *testing.T) {
	if os.Getenv("SERVICE_TEST_EXIT") == "1" {
		service.ExitOnConfigError("dice-roller", errors.New(`invalid PORT "abc": want a number from 1 to 65535`))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExitOnConfigError$")
	cmd.Env = append(os.Environ(), "SERVICE_TEST_EXIT=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "the process should exit with a status; stderr: %s", stderr.String())
	assert.Equal(t, 2, exitErr.ExitCode())
	assert.Equal(t, "dice-roller: invalid PORT \"abc\": want a number from 1 to 65535\n", stderr.String(),
		"one line on stderr, prefixed with the service")
	assert.Empty(t, stdout.String())
}

// freeAddr returns a local address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// events records what happened in which order, from several goroutines.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// waitServing polls addr until it answers /healthz.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond, "server never came up on %s", addr)
}

func TestRunDrainsInFlightRequestsThenFlushes(t *testing.T) {
	addr := freeAddr(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var ev events

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", service.Healthz)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		ev.add("request finished")
		service.WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
	})

	var flushDeadline time.Time
	var flushCtxErr error
	flush := func(ctx context.Context) error {
		ev.add("flush")
		flushDeadline, _ = ctx.Deadline()
		flushCtxErr = ctx.Err()
		return nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	runErr := make(chan error, 1)
	go func() { runErr <- service.Run(ctx, addr, mux, logger, 5*time.Second, flush) }()
	waitServing(t, addr)

	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- answer{status: resp.StatusCode, body: string(b)}
	}()
	<-entered

	cancel() // what SIGTERM does through signal.NotifyContext
	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the server still accepts connections after shutdown began")
	select {
	case err := <-runErr:
		t.Fatalf("Run returned (%v) while a request was still in flight", err)
	default:
	}

	close(release)
	a := <-answered
	require.NoError(t, a.err)
	assert.Equal(t, http.StatusOK, a.status, "the in-flight request completes")
	assert.JSONEq(t, `{"done":"yes"}`, a.body)

	select {
	case err := <-runErr:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	assert.Equal(t, []string{"request finished", "flush"}, ev.get(), "telemetry is flushed after the requests drained")
	require.NoError(t, flushCtxErr, "flush must get a live context, not the cancelled signal context")
	require.False(t, flushDeadline.IsZero(), "flush must be bounded")
	assert.WithinDuration(t, time.Now().Add(service.TelemetryFlushTimeout), flushDeadline, service.TelemetryFlushTimeout,
		"flush deadline is TelemetryFlushTimeout away")
}

func TestRunDrainTimeoutStillFlushes(t *testing.T) {
	addr := freeAddr(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", service.Healthz)
	mux.HandleFunc("/stuck", func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	})
	flushed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	runErr := make(chan error, 1)
	go func() {
		runErr <- service.Run(ctx, addr, mux, logger, 100*time.Millisecond, func(context.Context) error {
			close(flushed)
			return errors.New("collector down")
		})
	}()
	waitServing(t, addr)

	go func() {
		resp, err := http.Get("http://" + addr + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()

	select {
	case err := <-runErr:
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a drain that times out is reported")
	case <-time.After(10 * time.Second):
		t.Fatal("Run waited for a stuck request beyond its drain timeout")
	}
	select {
	case <-flushed:
	default:
		t.Fatal("telemetry was not flushed after a drain timeout")
	}
}

func TestRunReportsABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	err = service.Run(t.Context(), ln.Addr().String(), http.NotFoundHandler(), logger, time.Second,
		func(context.Context) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set PORT", "the error tells how to fix it")
	assert.Contains(t, err.Error(), ln.Addr().String())
}
