package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/service"
)

// loadRequest is one request of the load: a die, and a batch size for
// /roll-async (0 for /roll).
type loadRequest struct {
	die   string
	times int
}

func (r loadRequest) target() string {
	if r.times == 0 {
		return "/roll?die=" + r.die
	}
	return fmt.Sprintf("/roll-async?die=%s&times=%d", r.die, r.times)
}

// loadMix is a fixed mix of n requests: /roll and /roll-async, with the fair
// and the risky die, batch sizes running through 1..20.
func loadMix(n int) []loadRequest {
	reqs := make([]loadRequest, n)
	for i := range reqs {
		die := "fair"
		if i%2 == 1 {
			die = "risky"
		}
		times := 0
		if i%4 >= 2 {
			times = service.MinTimes + (i/4)%(service.MaxTimes-service.MinTimes+1)
		}
		reqs[i] = loadRequest{die: die, times: times}
	}
	return reqs
}

// dieSpec asks the die-service for a die's specification.
func dieSpec(t *testing.T, dieServiceURL, die string) (faces []int, errorRate float64) {
	t.Helper()
	_, body, _ := get(t, dieServiceURL+"/dice?identifier="+die)
	var answer struct {
		Specification struct {
			Faces     []int   `json:"faces"`
			ErrorRate float64 `json:"error_rate"`
		} `json:"specification"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &answer), body)
	require.NotEmpty(t, answer.Specification.Faces, body)
	return answer.Specification.Faces, answer.Specification.ErrorRate
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one only finalized
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestLoadThroughTheRealServices sends a bounded load (2000 requests from 16
// concurrent clients, /roll and /roll-async with the fair and the risky die)
// through the frontend to the real dice-roller and die-service. Every answer
// is a roll, or the designed failure of the risky die, as often as its error
// rate says; afterwards the frontend's goroutines and heap are back to what
// they were before. Nothing here measures time.
func TestLoadThroughTheRealServices(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test starts the real services")
	}
	const (
		requests = 2000
		clients  = 16
	)
	dieService := startService(t, "die-service") // the embedded dice.json
	diceRoller := startService(t, "dice-roller", "DIE_SERVICE_URL="+dieService, "ROLL_MAX_DELAY=2ms")
	// A backend timeout far above any answer's time, even with -race on a
	// busy machine: this test is about errors and leaks, not latency.
	frontend, _, tp := newWiredFrontend(t, config{
		diceRollerURL: diceRoller, dieServiceURL: dieService, backendTimeout: 20 * time.Second,
	})

	// The expected failures come from the die-service's own specifications.
	fairFaces, fairRate := dieSpec(t, dieService, "fair")
	riskyFaces, riskyRate := dieSpec(t, dieService, "risky")
	require.Zero(t, fairRate, "this test expects the fair die never to fail")
	faces := map[string][]int{"fair": fairFaces, "risky": riskyFaces}

	// The load's own client, so its connections can be closed: the frontend's
	// server goroutines for them then end.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	send := func(ctx context.Context, r loadRequest) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, frontend.URL+r.target(), nil)
		if err != nil {
			return 0, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}

	// Warm up every path once, so the baseline includes what the first
	// requests set up for good (connections, pools, metric series).
	for _, r := range []loadRequest{{"fair", 0}, {"risky", 0}, {"fair", 3}, {"risky", 3}} {
		_, _, err := send(t.Context(), r)
		require.NoError(t, err)
	}
	client.CloseIdleConnections()
	require.NoError(t, tp.ForceFlush(t.Context()))
	baseGoroutines := runtime.NumGoroutine()
	baseHeap := heapAlloc()

	// The load.
	mix := loadMix(requests)
	type outcome struct {
		status int
		body   []byte
		err    error
	}
	outcomes := make([]outcome, len(mix))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(mix) {
					return
				}
				status, body, err := send(t.Context(), mix[i])
				outcomes[i] = outcome{status, body, err}
			}
		})
	}
	wg.Wait()
	t.Logf("the load took %v", time.Since(start).Round(time.Millisecond))

	// Every answer is a roll or the risky die's designed failure.
	var failed int
	var mean, variance float64 // of the number of designed failures
	unexpected := map[string]int{}
	for i, r := range mix {
		o := outcomes[i]
		if r.die == "risky" {
			rolls := max(r.times, 1)
			p := 1 - math.Pow(1-riskyRate, float64(rolls)) // a batch fails if one roll fails
			mean += p
			variance += p * (1 - p)
		}
		switch {
		case o.err != nil:
			unexpected["transport error: "+o.err.Error()]++
		case o.status == http.StatusOK:
			if msg := checkRoll(r, o.body, faces[r.die]); msg != "" {
				unexpected[fmt.Sprintf("%s: %s", r.target(), msg)]++
			}
		case o.status == http.StatusInternalServerError && r.die == "risky" &&
			strings.HasPrefix(errorText(o.body), "rolling risky failed: "):
			failed++
		default:
			unexpected[fmt.Sprintf("%s %s: %d %s", r.die, kind(r), o.status, o.body)]++
		}
	}
	outcomes = nil
	assert.Empty(t, unexpected, "answers other than a roll or the risky die's designed failure")
	// Six standard deviations either side: a false alarm once in about a
	// billion runs, while a die that fails far too often (or never) is caught.
	margin := 6*math.Sqrt(variance) + 1
	t.Logf("%d requests, %d designed failures (expected %.0f ± %.0f)", requests, failed, mean, margin)
	assert.InDelta(t, mean, float64(failed), margin, "designed failures of the risky die")

	// The frontend is back to where it started: no goroutine and no memory
	// kept per request. Only the bound of the wait is generous: a leak of even
	// one goroutine per hundred requests stays above the baseline.
	client.CloseIdleConnections()
	const goroutineSlack = 10 // idle keep-alive connections to the dice-roller, timers
	deadline := time.Now().Add(30 * time.Second)
	goroutines := runtime.NumGoroutine()
	for goroutines > baseGoroutines+goroutineSlack && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		goroutines = runtime.NumGoroutine()
	}
	if !assert.LessOrEqual(t, goroutines, baseGoroutines+goroutineSlack,
		"goroutines before the load: %d; after it: %d", baseGoroutines, goroutines) {
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}

	require.NoError(t, tp.ForceFlush(t.Context()))
	const heapSlack = 4 << 20 // ~2 KiB per request; the load itself leaves well under 1 MiB
	heap := heapAlloc()
	t.Logf("goroutines %d → %d; heap %.1f → %.1f MiB", baseGoroutines, goroutines,
		float64(baseHeap)/(1<<20), float64(heap)/(1<<20))
	assert.LessOrEqual(t, heap, baseHeap+heapSlack, "the heap grew by %d KiB with the load", (int64(heap)-int64(baseHeap))/1024)
}

func kind(r loadRequest) string {
	if r.times == 0 {
		return "/roll"
	}
	return "/roll-async"
}

// checkRoll returns what is wrong with a 200 answer, or "".
func checkRoll(r loadRequest, body []byte, faces []int) string {
	if r.times == 0 {
		var roll struct {
			Roll *int `json:"roll"`
		}
		if err := json.Unmarshal(body, &roll); err != nil || roll.Roll == nil || !slices.Contains(faces, *roll.Roll) {
			return fmt.Sprintf("not a roll of %v: %s", faces, body)
		}
		return ""
	}
	var batch struct {
		Total int   `json:"total"`
		Rolls []int `json:"rolls"`
		Count int   `json:"count"`
	}
	if err := json.Unmarshal(body, &batch); err != nil || batch.Count != r.times || len(batch.Rolls) != r.times {
		return fmt.Sprintf("not a batch of %d: %s", r.times, body)
	}
	total := 0
	for _, v := range batch.Rolls {
		if !slices.Contains(faces, v) {
			return fmt.Sprintf("%d is no face of %v: %s", v, faces, body)
		}
		total += v
	}
	if total != batch.Total {
		return fmt.Sprintf("the total is not the sum of the rolls: %s", body)
	}
	return ""
}

func errorText(body []byte) string {
	var e service.ErrorBody
	_ = json.Unmarshal(body, &e)
	return e.Error
}
