// Package traffic is the workshop's traffic generator: simulated users who
// each roll a few dice through a stage's entry service, so the dashboards
// and the telemetry viewer have something to show.
package traffic

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Dice are the dice every stage knows.
var Dice = []string{"fair", "risky"}

// Options configure a run.
type Options struct {
	URL              string // base URL of the entry service (frontend, or the dice-roller in stage 1)
	Users            int    // simulated users, all at once
	MaxRolls         int    // each user makes 1..MaxRolls requests
	AsyncProbability float64
	MaxAsyncRolls    int           // an async request rolls 1..MaxAsyncRolls dice (1–20)
	Duration         time.Duration // the run stops when every user is done or this passes
	// Seed makes the users' choices repeatable; 0 picks one at random.
	Seed uint64
	// Client sends the requests; a private one (closed at the end) when nil.
	Client *http.Client
	// Progress, when set, receives a snapshot about five times a second.
	Progress func(Snapshot)
}

// Validate reports the first bad option, in words for the command line.
func (o Options) Validate() error {
	switch {
	case o.Users < 1:
		return fmt.Errorf("--users %d: want at least 1", o.Users)
	case o.MaxRolls < 1:
		return fmt.Errorf("--max-rolls %d: want at least 1", o.MaxRolls)
	case math.IsNaN(o.AsyncProbability) || o.AsyncProbability < 0 || o.AsyncProbability > 1:
		return fmt.Errorf("--async-probability %v: want a number from 0 to 1", o.AsyncProbability)
	case o.MaxAsyncRolls < 1 || o.MaxAsyncRolls > 20:
		return fmt.Errorf("--max-async-rolls %d: want 1 to 20 (the range /roll-async accepts)", o.MaxAsyncRolls)
	case o.Duration <= 0:
		return fmt.Errorf("--duration %s: want a positive duration such as 60s", o.Duration)
	}
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want a base URL such as http://localhost:8108", o.URL)
	}
	return nil
}

// Outcome classifies one request.
type Outcome int

const (
	OK             Outcome = iota // 2xx
	RiskyFailure                  // a 500 from the risky die: failing 10% of rolls is its design
	ServerError                   // any other 5xx
	ClientError                   // 4xx
	TransportError                // no answer at all
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"2xx", "risky 500 (by design)", "other 5xx", "4xx", "transport errors"}

func (o Outcome) String() string { return outcomeNames[o] }

// Classify maps an answer to its outcome; status 0 means no answer.
func Classify(die string, status int) Outcome {
	switch {
	case status == 0:
		return TransportError
	case status >= 200 && status < 300:
		return OK
	case status == http.StatusInternalServerError && die == "risky":
		return RiskyFailure
	case status >= 500:
		return ServerError
	case status >= 400:
		return ClientError
	}
	return ServerError // 1xx/3xx: nothing a roll should answer
}

// Snapshot is the progress so far.
type Snapshot struct {
	Requests  int
	UsersDone int
	Users     int
	Elapsed   time.Duration
	Failed    int // everything but 2xx
}

// Latency summarises one kind of request.
type Latency struct {
	Count         int
	P50, P95, P99 time.Duration
}

// Result is a finished run.
type Result struct {
	Requests  int
	ByOutcome [numOutcomes]int
	Sync      Latency // GET /roll, answered requests only
	Async     Latency // GET /roll-async, answered requests only
	Elapsed   time.Duration
	// Stopped says why the run ended: "done" (every user finished),
	// "duration" (--duration passed) or "interrupted".
	Stopped string
}

// Outcomes lists the outcome counts in display order.
func (r Result) Outcomes() []struct {
	Outcome Outcome
	Count   int
} {
	out := make([]struct {
		Outcome Outcome
		Count   int
	}, numOutcomes)
	for i := range out {
		out[i].Outcome, out[i].Count = Outcome(i), r.ByOutcome[i]
	}
	return out
}

type recorder struct {
	mu        sync.Mutex
	byOutcome [numOutcomes]int
	sync      []time.Duration
	async     []time.Duration
	usersDone int
}

func (r *recorder) add(async bool, o Outcome, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byOutcome[o]++
	if o == TransportError {
		return // no answer: its time says nothing about the service
	}
	if async {
		r.async = append(r.async, d)
	} else {
		r.sync = append(r.sync, d)
	}
}

func (r *recorder) snapshot(users int, elapsed time.Duration) Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{UsersDone: r.usersDone, Users: users, Elapsed: elapsed}
	for _, n := range r.byOutcome {
		s.Requests += n
	}
	s.Failed = s.Requests - r.byOutcome[OK]
	return s
}

// Run sends the traffic and returns its summary. It returns when every user
// is done, when o.Duration passes, or when ctx ends; in every case all its
// goroutines have finished. Requests cut short by the stop are not counted.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	client := o.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.Users
		client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		defer tr.CloseIdleConnections()
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	start := time.Now()
	rec := &recorder{}
	var users sync.WaitGroup
	for i := range o.Users {
		users.Go(func() {
			finished := user(runCtx, client, o, rand.New(rand.NewPCG(seed, uint64(i))), rec)
			rec.mu.Lock()
			if finished {
				rec.usersDone++
			}
			rec.mu.Unlock()
		})
	}

	var progress sync.WaitGroup
	done := make(chan struct{})
	if o.Progress != nil {
		progress.Go(func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					o.Progress(rec.snapshot(o.Users, time.Since(start)))
				}
			}
		})
	}
	users.Wait()
	close(done)
	progress.Wait()

	res := Result{Elapsed: time.Since(start), Stopped: "done"}
	switch {
	case ctx.Err() != nil:
		res.Stopped = "interrupted"
	case rec.usersDone < o.Users:
		res.Stopped = "duration"
	}
	if o.Progress != nil {
		o.Progress(rec.snapshot(o.Users, res.Elapsed))
	}
	res.ByOutcome = rec.byOutcome
	res.Sync, res.Async = Summarize(rec.sync), Summarize(rec.async)
	for _, n := range res.ByOutcome {
		res.Requests += n
	}
	return res, nil
}

// user is one simulated person: a few rolls, one after the other. It
// reports whether it made all of them before ctx ended.
func user(ctx context.Context, client *http.Client, o Options, rng *rand.Rand, rec *recorder) bool {
	rolls := 1 + rng.IntN(o.MaxRolls)
	for range rolls {
		if ctx.Err() != nil {
			return false
		}
		die := Dice[rng.IntN(len(Dice))]
		q := url.Values{"die": {die}}
		path := "/roll"
		async := o.AsyncProbability > 0 && rng.Float64() < o.AsyncProbability
		if async {
			path = "/roll-async"
			q.Set("times", strconv.Itoa(1+rng.IntN(o.MaxAsyncRolls)))
		}
		status, d := get(ctx, client, o.URL+path+"?"+q.Encode())
		if ctx.Err() != nil {
			return false // cut short by the stop: neither a success nor a failure
		}
		rec.add(async, Classify(die, status), d)
	}
	return true
}

func get(ctx context.Context, client *http.Client, u string) (status int, d time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// Summarize computes the count and the p50/p95/p99 of the latencies (which
// it does not modify).
func Summarize(ds []time.Duration) Latency {
	s := slices.Clone(ds)
	slices.Sort(s)
	return Latency{Count: len(s), P50: Percentile(s, 50), P95: Percentile(s, 95), P99: Percentile(s, 99)}
}

// Percentile is the nearest-rank percentile p (0–100] of sorted values: the
// smallest value with at least p% of the values at or below it; 0 when empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// WriteSummary prints the result for people.
func WriteSummary(w io.Writer, r Result) {
	fmt.Fprintf(w, "%d requests in %s (%s)\n", r.Requests, r.Elapsed.Round(time.Millisecond), stoppedWords[r.Stopped])
	for _, oc := range r.Outcomes() {
		fmt.Fprintf(w, "  %-22s %6d\n", oc.Outcome.String(), oc.Count)
	}
	fmt.Fprintf(w, "  %-19s %5s %8s %8s %8s\n", "latency", "count", "p50", "p95", "p99")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"sync  (/roll)", r.Sync}, {"async (/roll-async)", r.Async}} {
		if l.l.Count == 0 {
			fmt.Fprintf(w, "  %-19s %5d        –        –        –\n", l.name, 0)
			continue
		}
		fmt.Fprintf(w, "  %-19s %5d %8s %8s %8s\n", l.name, l.l.Count, ms(l.l.P50), ms(l.l.P95), ms(l.l.P99))
	}
}

var stoppedWords = map[string]string{
	"done":        "every user finished",
	"duration":    "stopped at --duration",
	"interrupted": "interrupted",
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

// ProgressLine is the one-line progress shown on a terminal.
func ProgressLine(s Snapshot) string {
	return fmt.Sprintf("%d requests, %d failed, %d/%d users done, %s", s.Requests, s.Failed, s.UsersDone, s.Users, s.Elapsed.Round(100*time.Millisecond))
}
