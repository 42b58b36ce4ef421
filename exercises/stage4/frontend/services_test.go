package main

import (
	"context"
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
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/telemetry"
)

// The tests that need the whole system run the stage's real dice-roller and
// die-service binaries, and the frontend in this process, where its
// goroutines and heap can be measured.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// buildServices compiles the dice-roller and the die-service once per test
// run (with -race when the tests have it) and returns the folder holding them.
func buildServices(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the services are run as processes on Unix")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "stage4-services")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + string(filepath.Separator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "../dice-roller", "../die-service")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// startService runs one of the stage's services on a free port with env (and
// no OTEL_* of the test's environment: OTEL_SDK_DISABLED unless env says
// otherwise, so no span leaves the test), waits until it is healthy, and
// returns its base URL. Its output is kept in the test's temporary folder
// and shown when the test fails.
func startService(t *testing.T, name string, env ...string) string {
	t.Helper()
	dir := buildServices(t)
	port := freePort(t)
	cmd := exec.Command(filepath.Join(dir, name))
	cmd.Env = append(serviceEnv(), "OTEL_SDK_DISABLED=true", "PORT="+strconv.Itoa(port))
	cmd.Env = append(cmd.Env, env...)
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			out, _ := os.ReadFile(logFile.Name())
			t.Logf("%s output (last 4 KiB):\n%s", name, tail(out, 4096))
		}
		logFile.Close()
	})

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := testClient.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logFile.Name())
			t.Fatalf("%s exited at startup:\n%s", name, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy at %s", name, base)
		}
	}
}

// serviceEnv is the test's environment without the variables the services
// read.
func serviceEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OTEL_") || slices.Contains([]string{
			"PORT", "ROLL_MAX_DELAY", "DIE_SERVICE_URL", "DICE_ROLLER_URL", "DIE_SPECS_FILE", "SHUTDOWN_TIMEOUT",
		}, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// newWiredFrontend is the frontend wired as main wires it (a batching tracer
// provider, the JSON logger), except that spans and logs go nowhere: unlike
// the recorder of newTestFrontend, nothing grows with the traffic. The list
// of dice is loaded, as main does at startup.
func newWiredFrontend(t *testing.T, cfg config) (*httptest.Server, *server, *sdktrace.TracerProvider) {
	t.Helper()
	if cfg.backendTimeout == 0 {
		cfg.backendTimeout = 5 * time.Second
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	tel := telemetry.New(telemetry.NewLogger(io.Discard, serviceName), tp, prop)
	srv := newServer(cfg, tel)
	ts := httptest.NewServer(srv.routes())
	t.Cleanup(ts.Close)
	_, err := srv.catalog.List(t.Context())
	require.NoError(t, err, "the frontend cannot list the dice")
	return ts, srv, tp
}
