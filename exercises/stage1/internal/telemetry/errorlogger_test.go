package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func warnings(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &line), raw)
		out = append(out, line)
	}
	return out
}

func TestErrorLoggerLogsOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	e := newErrorLogger(NewLogger(&buf, "dice-roller"), time.Hour)

	e.Handle(errors.New("connection refused"))
	for i := range 5 {
		e.Handle(fmt.Errorf("connection refused #%d", i))
	}
	e.Handle(nil)                                        // ignored
	e.Handle(fmt.Errorf("export: %w", context.Canceled)) // shutdown noise, ignored

	lines := warnings(t, &buf)
	require.Len(t, lines, 1, "one line per interval, not one per error: %s", buf.String())
	assert.Equal(t, "WARNING", lines[0]["level"])
	assert.Equal(t, "telemetry export failed", lines[0]["message"])
	assert.Equal(t, "connection refused", lines[0]["error"])
	assert.Equal(t, float64(0), lines[0]["suppressed"])

	// The interval passes (moved back rather than slept through).
	e.mu.Lock()
	e.last = e.last.Add(-time.Hour)
	e.mu.Unlock()
	e.Handle(errors.New("still refused"))
	e.Handle(errors.New("suppressed again"))

	lines = warnings(t, &buf)
	require.Len(t, lines, 2, buf.String())
	assert.Equal(t, "still refused", lines[1]["error"])
	assert.Equal(t, float64(5), lines[1]["suppressed"], "the next line says how many errors were kept quiet")
	e.mu.Lock()
	assert.Equal(t, 1, e.suppressed, "the count restarts after it was reported")
	e.mu.Unlock()
}

func TestErrorLoggerIsSafeForConcurrentUse(t *testing.T) {
	var buf syncBuffer
	e := newErrorLogger(NewLogger(&buf, "dice-roller"), time.Hour)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				e.Handle(errors.New("boom"))
			}
		}()
	}
	for range 8 {
		<-done
	}
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "800 errors at once are logged once")
	e.mu.Lock()
	assert.Equal(t, 799, e.suppressed)
	e.mu.Unlock()
}

func TestMethodLabelAndStatusClass(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		assert.Equal(t, m, methodLabel(m))
	}
	for _, m := range []string{"BREW", "get", "PROPFIND", "", strings.Repeat("X", 100)} {
		assert.Equal(t, "OTHER", methodLabel(m), "method %q", m)
	}
	tests := map[int]string{0: "2xx", 200: "2xx", 204: "2xx", 301: "3xx", 400: "4xx", 404: "4xx", 405: "4xx", 500: "5xx", 503: "5xx"}
	for code, want := range tests {
		assert.Equal(t, want, statusClass(code), "status %d", code)
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
