package traffic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// fake answers like a stage 4 frontend: fair always succeeds, risky fails
// every fourth roll with 500, anything else is 400; it counts what it saw.
type fake struct {
	sync, async, risky atomic.Int64
	times              sync.Map // times value → seen
	block              chan struct{}
	arrived            chan struct{}
	once               sync.Once
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.arrived != nil {
		f.once.Do(func() { close(f.arrived) })
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-r.Context().Done():
			return
		}
	}
	die := r.URL.Query().Get("die")
	switch r.URL.Path {
	case "/roll":
		f.sync.Add(1)
	case "/roll-async":
		f.async.Add(1)
		n, err := strconv.Atoi(r.URL.Query().Get("times"))
		if err != nil || n < 1 || n > 20 {
			http.Error(w, `{"error":"times must be 1-20"}`, http.StatusBadRequest)
			return
		}
		f.times.Store(n, true)
	default:
		http.NotFound(w, r)
		return
	}
	switch die {
	case "fair":
		_, _ = w.Write([]byte(`{"roll":3}`))
	case "risky":
		if f.risky.Add(1)%4 == 0 {
			http.Error(w, `{"error":"the risky die failed"}`, http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"roll":5}`))
	default:
		http.Error(w, `{"error":"unknown die"}`, http.StatusBadRequest)
	}
}

func opts(url string) Options {
	return Options{URL: url, Users: 5, MaxRolls: 10, AsyncProbability: 0.3, MaxAsyncRolls: 10, Duration: time.Minute, Seed: 42}
}

func TestRunTotalsMatchWhatTheServerSaw(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := &fake{}
	srv := httptest.NewServer(f)
	defer srv.Close()

	var snaps atomic.Int64
	o := opts(srv.URL)
	o.Progress = func(Snapshot) { snaps.Add(1) }
	res, err := Run(t.Context(), o)
	require.NoError(t, err)

	assert.Equal(t, "done", res.Stopped)
	assert.Equal(t, int(f.sync.Load()+f.async.Load()), res.Requests)
	assert.Equal(t, int(f.sync.Load()), res.Sync.Count)
	assert.Equal(t, int(f.async.Load()), res.Async.Count)
	assert.Positive(t, res.Async.Count, "with probability 0.3 over tens of requests some are async")
	assert.GreaterOrEqual(t, res.Requests, o.Users, "each user rolls at least once")
	assert.LessOrEqual(t, res.Requests, o.Users*o.MaxRolls, "each user rolls at most --max-rolls times")
	sum := 0
	for _, oc := range res.Outcomes() {
		sum += oc.Count
	}
	assert.Equal(t, res.Requests, sum)
	assert.Equal(t, res.Requests-res.ByOutcome[RiskyFailure], res.ByOutcome[OK], "the fake fails only risky rolls")
	assert.Zero(t, res.ByOutcome[ClientError]+res.ByOutcome[ServerError]+res.ByOutcome[TransportError])
	f.times.Range(func(k, _ any) bool {
		assert.True(t, k.(int) >= 1 && k.(int) <= o.MaxAsyncRolls, "times=%d", k)
		return true
	})
	assert.Positive(t, snaps.Load(), "the final snapshot is always delivered")
}

func TestRunWithoutAsyncSendsOnlySyncRolls(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := &fake{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o := opts(srv.URL)
	o.AsyncProbability = 0
	res, err := Run(t.Context(), o)
	require.NoError(t, err)
	assert.Zero(t, f.async.Load())
	assert.Zero(t, res.Async.Count)
	assert.Equal(t, int(f.sync.Load()), res.Requests)
}

func TestRunStopsAtTheDuration(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := &fake{block: make(chan struct{})} // never answers
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(f.block)

	o := opts(srv.URL)
	o.Duration = 100 * time.Millisecond
	res, err := Run(t.Context(), o)
	require.NoError(t, err)
	assert.Equal(t, "duration", res.Stopped)
	assert.Zero(t, res.Requests, "requests cut short by the stop are not counted")
}

func TestRunStopsWhenCancelled(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := &fake{block: make(chan struct{}), arrived: make(chan struct{})}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(f.block)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.arrived
		cancel()
	}()
	res, err := Run(ctx, opts(srv.URL))
	require.NoError(t, err)
	assert.Equal(t, "interrupted", res.Stopped)
}

func TestRunCountsTransportErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	o := opts(url)
	o.Users, o.MaxRolls = 2, 1
	res, err := Run(t.Context(), o)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Requests)
	assert.Equal(t, 2, res.ByOutcome[TransportError])
	assert.Zero(t, res.Sync.Count, "no answer, no latency")
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"ok", func(*Options) {}, ""},
		{"no users", func(o *Options) { o.Users = 0 }, "--users 0"},
		{"no rolls", func(o *Options) { o.MaxRolls = 0 }, "--max-rolls 0"},
		{"probability above 1", func(o *Options) { o.AsyncProbability = 1.5 }, "from 0 to 1"},
		{"negative probability", func(o *Options) { o.AsyncProbability = -0.1 }, "from 0 to 1"},
		{"too many async rolls", func(o *Options) { o.MaxAsyncRolls = 21 }, "1 to 20"},
		{"no async rolls", func(o *Options) { o.MaxAsyncRolls = 0 }, "1 to 20"},
		{"no duration", func(o *Options) { o.Duration = 0 }, "--duration"},
		{"bad url", func(o *Options) { o.URL = "localhost:8108" }, "--url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := opts("http://127.0.0.1:8108")
			tt.change(&o)
			err := o.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		die    string
		status int
		want   Outcome
	}{
		{"fair", 200, OK},
		{"risky", 200, OK},
		{"risky", 500, RiskyFailure},
		{"fair", 500, ServerError},
		{"risky", 502, ServerError},
		{"fair", 400, ClientError},
		{"fair", 0, TransportError},
	} {
		assert.Equal(t, tt.want, Classify(tt.die, tt.status), "%s %d", tt.die, tt.status)
	}
}

func TestPercentilesOnKnownData(t *testing.T) {
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		name          string
		in            []time.Duration
		p50, p95, p99 time.Duration
	}{
		{"1..100 ms", hundred, 50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond},
		{"one value", []time.Duration{7}, 7, 7, 7},
		{"empty", nil, 0, 0, 0},
		{"four values", []time.Duration{4, 1, 3, 2}, 2, 4, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := Summarize(tt.in)
			assert.Equal(t, len(tt.in), l.Count)
			assert.Equal(t, tt.p50, l.P50, "p50")
			assert.Equal(t, tt.p95, l.P95, "p95")
			assert.Equal(t, tt.p99, l.P99, "p99")
		})
	}
	assert.Equal(t, 100*time.Millisecond, hundred[0], "Summarize does not sort its input")
}
