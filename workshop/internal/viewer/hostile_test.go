package viewer_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/hostile"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
)

// TestLogsPageOfHugeLinesStaysSmall: 200 log lines of 1 MB sent over OTLP
// made /logs a 210 MB page, reloaded every 5 s (issue 14). The lines are
// cut, the page shows one page of them with a link to the older ones, and
// the viewer says what it let go.
func TestLogsPageOfHugeLinesStaysSmall(t *testing.T) {
	store := otlp.NewStore(otlp.DefaultLimits)
	srv := httptest.NewServer(otlp.NewReceiver(store))
	defer srv.Close()
	for range 20 {
		status, err := hostile.Post(t.Context(), srv.URL, hostile.BigLogLines(10, 1<<20))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	h := viewer.New(store, viewer.Options{Title: "Stage 1"})

	code, body := get(t, h, "/logs")
	require.Equal(t, http.StatusOK, code)
	t.Logf("/logs is %d bytes", len(body))
	assert.Less(t, len(body), 4<<20, "one page of cut lines")
	assert.Equal(t, 100, strings.Count(body, `<tr class="level-INFO">`))
	assert.Contains(t, body, `href="/logs?page=1">older lines →</a>`)
	assert.Contains(t, body, "this viewer let go of data: 200 values cut to 4 KB (log lines to 16 KB)")

	_, body = get(t, h, "/logs?page=1&service="+hostile.Service)
	assert.Equal(t, 100, strings.Count(body, `<tr class="level-INFO">`))
	assert.Contains(t, body, `href="/logs?service=flood">← newer lines</a>`)
	assert.NotContains(t, body, "older lines", "the last page")
	assert.NotContains(t, body, `http-equiv="refresh"`, "an older page stays put")

	_, body = get(t, h, "/logs?page=99999999999999999999")
	assert.Contains(t, body, "No log lines", "a page past the end is empty, not an error")
}

// TestViewerSaysWhenTracesWereLetGo: after a flood of trace ids the pages
// say how many traces went and why.
func TestViewerSaysWhenTracesWereLetGo(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxTraces: 10})
	srv := httptest.NewServer(otlp.NewReceiver(store))
	defer srv.Close()
	for range 8 { // 2 new traces a request (a quarter of 10): the store fills, then evicts
		_, err := hostile.Post(t.Context(), srv.URL, hostile.TraceIDFlood(600))
		require.NoError(t, err)
	}
	_, body := get(t, viewer.New(store, viewer.Options{}), "/")
	assert.Contains(t, body, `class="notice letgo"`)
	assert.Contains(t, body, "older traces let go (the store keeps 10; the sender holding the most loses its oldest first)")
	assert.Contains(t, body, "spans refused")
}
