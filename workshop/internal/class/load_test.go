package class

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestARoomOf150 is the short version of `make class-load`: 150 simulated
// learners post results and send traces for a few seconds against a real
// server on loopback. It checks what the run must hold, not how fast it
// was (the long run prints those numbers).
func TestARoomOf150(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{Telemetry: DefaultLimits.Telemetry}})
	// Generous timeouts: on a busy CI machine a request may wait, and this
	// test is about what the run holds, not its speed.
	// The learners share 32 connections here, so a machine busy with other
	// tests queues their requests in the client rather than in the
	// server's accept queue (make class-load gives each its own).
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxConnsPerHost: 32, MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	o := LoadOptions{URL: tc.URL, Code: tc.Code(), Learners: 150, Every: 500 * time.Millisecond, For: 2 * time.Second, Spans: 12,
		Client: client, Grace: 2 * time.Minute}
	rep, err := Load(context.Background(), o)
	require.NoError(t, err)
	var out strings.Builder
	WriteLoad(&out, o, rep)
	t.Log(out.String())

	assert.Equal(t, 150, rep.Joined)
	assert.Zero(t, rep.PostErrors, rep.Errors)
	assert.Zero(t, rep.ExportErrors, rep.Errors)
	assert.GreaterOrEqual(t, rep.Posts, 150, "every learner posted at least once")
	assert.Equal(t, rep.Posts, rep.Exports)
	assert.Equal(t, rep.Posts, rep.Post.Count)
	assert.Positive(t, rep.Post.P99)
	assert.Less(t, rep.Elapsed, o.For+o.Grace, "the run is bounded")
	assert.Equal(t, 150, rep.BoardRows)
	assert.Equal(t, 150, rep.BoardWithResult)
	assert.Equal(t, int64(-1), rep.RSSPeakKB, "an in-process server is not measured")

	// Each learner's telemetry stays within its store's bounds.
	for _, e := range tc.roster() {
		assert.LessOrEqual(t, e.Traces, DefaultLimits.Telemetry.MaxTraces)
	}
	b := tc.board("name", "")
	assert.NotNil(t, b.Headline)
	assert.NotEmpty(t, b.Failures)

	assert.Contains(t, out.String(), "class load: 150 learners (150 joined)")
	assert.Contains(t, out.String(), "memory and CPU not measured")
}

// TestALoadStopsWhenCancelled: Ctrl-C on `class load` ends every learner.
func TestALoadStopsWhenCancelled(t *testing.T) {
	tc := startClass(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rep, err := Load(ctx, LoadOptions{URL: tc.URL, Code: tc.Code(), Learners: 20, Every: time.Hour, For: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, 20, rep.Joined)
	assert.Less(t, rep.Elapsed, time.Hour)
	_, err = Load(context.Background(), LoadOptions{URL: tc.URL, Code: "WRONG", Learners: 2, For: time.Second})
	assert.ErrorContains(t, err, "no simulated learner could join")
}

func TestCPUTimeOfThisProcess(t *testing.T) {
	if cpuTime(1) < 0 {
		t.Skip("no /proc here")
	}
	assert.GreaterOrEqual(t, cpuTime(1), time.Duration(0))
	assert.Equal(t, time.Duration(-1), cpuTime(0))
}
