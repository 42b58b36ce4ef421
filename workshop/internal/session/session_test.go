package session

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func TestFlushedSpans(t *testing.T) {
	before := map[string]int{"a": 2, "evicted": 5}
	after := map[string]int{"a": 3, "b": 2}
	assert.Equal(t, 3, flushedSpans(before, after))
	assert.Equal(t, 0, flushedSpans(after, after))
}

func stageDir(t *testing.T, n int) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return repo.StageDir(root, n)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestSessionRunsAStageWithItsTelemetry runs stage 1 here with a receiver
// and a viewer on free ports: the service's lines reach the store, its spans
// arrive by its final flush, and closing leaves no server listening.
func TestSessionRunsAStageWithItsTelemetry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	var lines []string
	s, err := Start(t.Context(), Options{
		Stage: 1, Dir: stageDir(t, 1), FreePorts: true,
		// A batch timer longer than the test: only the flush delivers.
		Env:      []string{"ROLL_MAX_DELAY=0", "OTEL_BSP_SCHEDULE_DELAY=60000"},
		Output:   func(_ string, line []byte) { lines = append(lines, string(line)) },
		Receiver: "127.0.0.1:0", Viewer: "127.0.0.1:0", ViewerTitle: "Stage 1",
	})
	require.NoError(t, err)
	defer s.Close()

	status, _ := get(t, s.URL("dice-roller")+"/roll?die=fair")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, s.Store.Traces(0), "nothing exported before the stop")
	status, page := get(t, "http://"+s.ViewerAddr+"/")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "Stage 1")

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	flushed, err := s.StopServices(ctx)
	require.NoError(t, err)
	assert.Positive(t, flushed, "the final flush delivered the roll's span")
	assert.NotEmpty(t, s.Store.Traces(0))
	assert.NotEmpty(t, s.Store.Logs("dice-roller", 0), "the lines reach the viewer's logs page")
	assert.Contains(t, strings.Join(lines, "\n"), "dice-roller stopped", "Output gets every line")

	require.NoError(t, s.Close())
	assert.NotEmpty(t, s.Store.Traces(0), "the store stays readable")
	_, err = net.Dial("tcp", s.ViewerAddr)
	assert.Error(t, err, "the viewer is closed")
}

// TestSessionReceiverTaken: with ReceiverMayBeTaken, a taken OTLP port means
// no receiver (the services send there) rather than an error.
func TestSessionReceiverTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	addr := held.Addr().String()

	_, err = Start(t.Context(), Options{Stage: 1, Dir: stageDir(t, 1), FreePorts: true, Receiver: addr})
	require.ErrorIs(t, err, otlp.ErrAddrInUse, "taken and not allowed to be")

	s, err := Start(t.Context(), Options{Stage: 1, Dir: stageDir(t, 1), FreePorts: true, Receiver: addr,
		ReceiverMayBeTaken: true, Viewer: "127.0.0.1:0"})
	require.NoError(t, err)
	defer s.Close()
	assert.True(t, s.ReceiverTaken)
	assert.Nil(t, s.Store)
	assert.Empty(t, s.ViewerAddr, "no viewer without the receiver")
	status, _ := get(t, s.URL("dice-roller")+"/")
	assert.Equal(t, http.StatusOK, status)
	killNow, cancel := context.WithCancel(t.Context())
	cancel() // the held port never answers the final flush
	_, err = s.StopServices(killNow)
	assert.NoError(t, err)
	require.NoError(t, s.Close())
}
