package otlp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/hostile"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// The attacks of issue 14 on a receiver and its store, over real HTTP.

// TestFloodOfTraceIDsKeepsRealTraces: 600 distinct trace ids in one request
// used to push out every trace of the learner. Now one request starts at
// most a quarter of the store's traces, and a full store lets go of the
// busiest sender's traces first.
func TestFloodOfTraceIDsKeepsRealTraces(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	srv := httptest.NewServer(otlp.NewReceiver(store))
	defer srv.Close()
	var real []string
	for range 10 {
		id, _, _, _ := exportTwoServiceTrace(t, srv.URL)
		real = append(real, id)
	}
	for range 5 {
		status, err := hostile.Post(t.Context(), srv.URL, hostile.TraceIDFlood(600))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "partial success, not an error")
	}
	for _, id := range real {
		assert.True(t, store.HasTrace(id), "the learner's trace %s is still held", id)
	}
	st := store.Stats()
	assert.LessOrEqual(t, st.Traces, store.Limits().MaxTraces)
	assert.Positive(t, st.RejectedSpans, "what one request may not start is refused, and counted")
	assert.Positive(t, st.EvictedTraces, "the flood pushed out its own traces")
	assert.True(t, st.LetGo())
}

// TestBigAttributesAreCut: 120 traces with a 15 MB attribute each took the
// CLI to 2.5 GB. Every value is cut to MaxValueBytes, and the store stays
// within MaxBytes. (A dozen here: the bound, not the volume, is the point.)
func TestBigAttributesAreCut(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxBytes: 1 << 20})
	srv := httptest.NewServer(otlp.NewReceiver(store))
	defer srv.Close()
	for range 12 {
		status, err := hostile.Post(t.Context(), srv.URL, hostile.BigAttribute(15<<20))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	st := store.Stats()
	assert.Equal(t, 12, st.TruncatedValues)
	assert.LessOrEqual(t, st.Bytes, 1<<20)
	for _, tr := range store.Traces(0) {
		blob := tr.Spans[0].Attributes["blob"].(string)
		assert.LessOrEqual(t, len(blob), store.Limits().MaxValueBytes)
		assert.True(t, strings.HasSuffix(blob, otlp.TruncatedMark), "a cut value says so")
	}
}

// TestBigLogLinesAreCut: 200 log lines of 1 MB were kept whole. Each message
// is cut to MaxLogLineBytes and the store stays within MaxBytes.
func TestBigLogLinesAreCut(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxBytes: 2 << 20})
	srv := httptest.NewServer(otlp.NewReceiver(store))
	defer srv.Close()
	for range 20 {
		status, err := hostile.Post(t.Context(), srv.URL, hostile.BigLogLines(10, 1<<20))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	st := store.Stats()
	assert.Equal(t, 200, st.TruncatedValues)
	assert.LessOrEqual(t, st.Bytes, 2<<20)
	assert.Positive(t, st.DroppedLogs, "the oldest lines went to stay within the bytes")
	for _, rec := range store.Logs("", 0) {
		assert.LessOrEqual(t, len(rec.Message), store.Limits().MaxLogLineBytes)
	}
}
