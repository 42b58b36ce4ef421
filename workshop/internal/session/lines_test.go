package session

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLinesKeepTheNewestWithinBounds(t *testing.T) {
	var l Lines
	for i := range MaxLinesPerService + 10 {
		l.Add("svc", []byte(strings.Repeat("a", i%7)))
	}
	l.Add("svc", []byte("last"))
	got := l.Get("svc")
	assert.Equal(t, MaxLinesPerService, len(got))
	assert.Equal(t, "last", got[len(got)-1])
	assert.Equal(t, 11, l.Dropped("svc"))
	assert.Contains(t, l.DroppedNote("svc"), "11 earlier lines of the svc were not kept")
	assert.Empty(t, l.DroppedNote("other"))

	// Bytes bound: big lines push out the old ones long before the count.
	big := []byte(strings.Repeat("b", 64<<10))
	for range 200 {
		l.Add("big", big)
	}
	assert.LessOrEqual(t, len(l.Get("big"))*len(big), MaxLineBytesPerService)
	assert.Positive(t, l.Dropped("big"))
}

// TestSessionLogLoopIsBounded runs stage 1 with the log-loop fixture in its
// dice-roller (testdata/logloop.go.txt): the service prints 1 KB lines as
// fast as it can. What the capture keeps stays within its bounds however
// much was printed, and the dropped lines are counted.
func TestSessionLogLoopIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1 with a log loop")
	}
	dir := filepath.Join(t.TempDir(), "stage1")
	require.NoError(t, os.CopyFS(dir, os.DirFS(stageDir(t, 1))))
	os.RemoveAll(filepath.Join(dir, "bin"))
	fixture, err := os.ReadFile("testdata/logloop.go.txt")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dice-roller", "logloop.go"), fixture, 0o644))

	var lines Lines
	var seen atomic.Int64
	s, err := Start(t.Context(), Options{
		Stage: 1, Dir: dir, FreePorts: true,
		Output: func(service string, line []byte) {
			seen.Add(1)
			lines.Add(service, line)
		},
		Receiver: "127.0.0.1:0",
	})
	require.NoError(t, err)
	defer s.Close()

	// Wait (bounded by the test's context, not asserted on) until the loop
	// has printed several times what the capture keeps.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for seen.Load() < 20*MaxLinesPerService && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, ctx.Err(), "the log loop printed")
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	t.Logf("%d lines of 32 KB printed; %d dropped; heap in use %d MB", seen.Load(), lines.Dropped("dice-roller"), ms.HeapInuse>>20)
	kept := lines.Get("dice-roller")
	assert.LessOrEqual(t, len(kept), MaxLinesPerService)
	assert.Positive(t, lines.Dropped("dice-roller"))
	assert.Contains(t, lines.DroppedNote("dice-roller"), "earlier lines of the dice-roller were not kept")
	assert.LessOrEqual(t, s.Store.Stats().Logs, s.Store.Limits().MaxLogsPerService, "the viewer's store is bounded too")
	require.NoError(t, s.Close())
}
