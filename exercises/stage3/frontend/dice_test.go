package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry/telemetrytest"
)

// countingDieService answers GET /dice with status and body and counts the calls.
type countingDieService struct {
	*httptest.Server
	calls  atomic.Int32
	status atomic.Int32
	body   atomic.Value // string
}

func newCountingDieService(t *testing.T, status int, body string) *countingDieService {
	t.Helper()
	d := &countingDieService{}
	d.set(status, body)
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(d.status.Load()))
		_, _ = io.WriteString(w, d.body.Load().(string))
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *countingDieService) set(status int, body string) {
	d.status.Store(int32(status))
	d.body.Store(body)
}

func newTestCatalog(t *testing.T, url string, maxAge time.Duration) (*catalog, *telemetrytest.Recorder) {
	rec := telemetrytest.New(t, serviceName)
	return &catalog{url: url, client: rec.NewHTTPClient(0), log: rec.Logger, maxAge: maxAge}, rec
}

const fairAndRisky = `{"identifiers": ["fair", "risky"]}`

func TestCatalogKeepsTheListForMaxAge(t *testing.T) {
	ds := newCountingDieService(t, http.StatusOK, fairAndRisky)
	c, rec := newTestCatalog(t, ds.URL, time.Hour)

	for range 3 {
		dice, err := c.List(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []string{"fair", "risky"}, dice)
	}
	assert.Equal(t, int32(1), ds.calls.Load(), "one call to the die-service within maxAge")
	fetched := rec.LogsWithMessage(t, "die list fetched")
	require.Len(t, fetched, 1)
	assert.Equal(t, 2.0, fetched[0]["count"])
	assert.Len(t, rec.SpansNamed("GET /dice"), 1, "the fetch is traced")
}

func TestCatalogAsksAgainWhenTheListIsOld(t *testing.T) {
	ds := newCountingDieService(t, http.StatusOK, fairAndRisky)
	c, _ := newTestCatalog(t, ds.URL, 0) // every list is old at once

	_, err := c.List(t.Context())
	require.NoError(t, err)
	ds.set(http.StatusOK, `{"identifiers": ["d20", "fair", "risky"]}`)
	dice, err := c.List(t.Context())
	require.NoError(t, err)

	assert.Equal(t, []string{"d20", "fair", "risky"}, dice)
	assert.Equal(t, int32(2), ds.calls.Load())
	known, _ := c.Known(t.Context(), "d20")
	assert.True(t, known, "a die added to the die-service becomes known")
}

func TestCatalogKeepsTheLastListWhenTheDieServiceFails(t *testing.T) {
	ds := newCountingDieService(t, http.StatusOK, fairAndRisky)
	c, rec := newTestCatalog(t, ds.URL, 0)
	_, err := c.List(t.Context())
	require.NoError(t, err)

	ds.set(http.StatusInternalServerError, `{"error": "boom"}`)
	dice, err := c.List(t.Context())

	require.Error(t, err)
	assert.Contains(t, err.Error(), "500")
	assert.Equal(t, []string{"fair", "risky"}, dice, "the last list is still answered")
	known, list := c.Known(t.Context(), "risky")
	assert.True(t, known)
	assert.Equal(t, []string{"fair", "risky"}, list)
	warnings := rec.LogsWithMessage(t, "die list unavailable")
	require.Len(t, warnings, 1)
	assert.Equal(t, "WARNING", warnings[0]["level"])
}

func TestCatalogRefusesAnUnreadableList(t *testing.T) {
	ds := newCountingDieService(t, http.StatusOK, `<html>not the die-service</html>`)
	c, _ := newTestCatalog(t, ds.URL, time.Hour)

	dice, err := c.List(t.Context())

	require.Error(t, err)
	assert.Contains(t, err.Error(), "unreadable die list")
	assert.Empty(t, dice)
	known, _ := c.Known(t.Context(), "fair")
	assert.False(t, known)
}

func TestCatalogKnownAsksOnlyUntilAListArrives(t *testing.T) {
	ds := newCountingDieService(t, http.StatusServiceUnavailable, `{"error":"starting"}`)
	c, _ := newTestCatalog(t, ds.URL, time.Hour)

	// No list yet (the die-service is not up): Known asks, at most once per retryEvery.
	known, dice := c.Known(t.Context(), "fair")
	assert.False(t, known)
	assert.Empty(t, dice)
	assert.Equal(t, int32(1), ds.calls.Load())
	_, _ = c.Known(t.Context(), "fair")
	assert.Equal(t, int32(1), ds.calls.Load(), "a second roll right after does not ask again")

	// The die-service comes up; once the retry interval has passed, the next roll fetches the list.
	ds.set(http.StatusOK, fairAndRisky)
	c.mu.Lock()
	c.attempted = time.Now().Add(-retryEvery)
	c.mu.Unlock()
	known, dice = c.Known(t.Context(), "fair")
	assert.True(t, known)
	assert.Equal(t, []string{"fair", "risky"}, dice)
	assert.Equal(t, int32(2), ds.calls.Load())

	// With a list, Known never calls the die-service, however old the list.
	c.mu.Lock()
	c.fetched = time.Now().Add(-24 * time.Hour)
	c.mu.Unlock()
	_, _ = c.Known(t.Context(), "risky")
	assert.Equal(t, int32(2), ds.calls.Load())
}

// blockingTransport holds every request until released, and notes whether a
// round trip has finished.
type blockingTransport struct {
	arrived  chan struct{}
	release  chan struct{}
	once     sync.Once
	finished atomic.Bool
}

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	defer b.finished.Store(true)
	b.once.Do(func() { close(b.arrived) })
	select {
	case <-b.release:
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(fairAndRisky)),
			Request:    r,
		}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

func TestCatalogKnownDoesNotWaitForASlowDieService(t *testing.T) {
	// Every roll calls Known. While a page load waits for a slow die-service,
	// rolls must go on: Known may not wait for that answer.
	rt := &blockingTransport{arrived: make(chan struct{}), release: make(chan struct{})}
	c, _ := newTestCatalog(t, "http://die-service.invalid", time.Hour)
	c.client = &http.Client{Transport: rt}

	listed := make(chan error, 1)
	go func() {
		_, err := c.List(context.Background())
		listed <- err
	}()
	select {
	case <-rt.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the catalog never asked the die-service")
	}

	known, _ := c.Known(t.Context(), "fair")
	assert.False(t, known)
	assert.False(t, rt.finished.Load(), "Known waited until the die-service answered (or the fetch timed out)")

	close(rt.release)
	require.NoError(t, <-listed)
	known, _ = c.Known(t.Context(), "fair")
	assert.True(t, known, "the list is known once the die-service answered")
}
