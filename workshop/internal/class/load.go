package class

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/bench"
	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/traffic"
)

// LoadOptions describe a simulated room.
type LoadOptions struct {
	URL, Code string        // the class server and its code
	Learners  int           // simulated learners (default 150)
	Every     time.Duration // each posts a check result and sends a trace this often (default 10 s)
	For       time.Duration // how long (default 5 min)
	Spans     int           // spans per trace (default 12, a stage-4 request with its async rolls)
	// ServerPID is the class server's process, sampled for its memory and
	// CPU; 0 when it is not a process of its own.
	ServerPID int
	Client    *http.Client
	// Grace bounds how long past For the run may take to wind down
	// (default 30 s): every request is bounded by it.
	Grace time.Duration
}

// LoadReport is what a simulated room measured.
type LoadReport struct {
	Learners, Joined           int
	Posts, PostErrors          int
	Exports, ExportErrors      int
	Post, Export               traffic.Latency
	Elapsed                    time.Duration
	RSSPeakKB, RSSEndKB        int64         // the server's; -1 when unknown
	CPU                        time.Duration // the server's user+system time during the run; -1 when unknown
	Errors                     []string      // the first few, for people
	BoardRows, BoardWithResult int           // what the board shows at the end
}

// Load joins o.Learners learners to the class and has each post a check
// result and send a trace every o.Every for o.For, measuring the server.
// It returns when every simulated learner has stopped.
func Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	if o.Learners <= 0 {
		o.Learners = 150
	}
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.For <= 0 {
		o.For = 5 * time.Minute
	}
	if o.Spans <= 0 {
		o.Spans = 12
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Learners}}
	}
	rep := LoadReport{Learners: o.Learners, RSSPeakKB: -1, RSSEndKB: -1, CPU: -1}
	ctx, cancel := context.WithTimeout(ctx, o.For+o.Grace)
	defer cancel()
	runCtx, stopRun := context.WithTimeout(ctx, o.For)
	defer stopRun()

	cpu0 := cpuTime(o.ServerPID)
	sampled := make(chan struct{})
	go func() { // the server's peak memory, once a second
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			rep.RSSPeakKB = max(rep.RSSPeakKB, processRSS(o.ServerPID))
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	var mu sync.Mutex
	var posts, exports []time.Duration
	record := func(list *[]time.Duration, count, errs *int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		*count++
		if err != nil {
			*errs++
			if len(rep.Errors) < 5 {
				rep.Errors = append(rep.Errors, err.Error())
			}
			return
		}
		*list = append(*list, d)
	}

	start := time.Now()
	var wg sync.WaitGroup
	catalog := check.Catalog(4)
	for i := range o.Learners {
		wg.Go(func() {
			name := fmt.Sprintf("learner %03d", i+1)
			m, err := Join(ctx, o.Client, o.URL, o.Code, name, nil)
			if err != nil {
				record(&posts, &rep.Posts, &rep.PostErrors, 0, fmt.Errorf("join: %w", err))
				return
			}
			mu.Lock()
			rep.Joined++
			mu.Unlock()
			// Spread the room over the interval, as real checks are. Every
			// learner who joined posts at least once, even on a machine so
			// busy that the joins took the whole run.
			select {
			case <-time.After(randDuration(o.Every)):
			case <-runCtx.Done():
			}
			tick := time.NewTicker(o.Every)
			defer tick.Stop()
			for round := 0; ; round++ {
				t0 := time.Now()
				err := postOnce(ctx, o.Client, m, simulatedResult(catalog, i, round))
				record(&posts, &rep.Posts, &rep.PostErrors, time.Since(t0), err)
				t0 = time.Now()
				err = exportOnce(ctx, o.Client, m, o.Spans)
				record(&exports, &rep.Exports, &rep.ExportErrors, time.Since(t0), err)
				select {
				case <-tick.C:
				case <-runCtx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	stopRun()
	<-sampled
	rep.Elapsed = time.Since(start)
	rep.Post, rep.Export = traffic.Summarize(posts), traffic.Summarize(exports)
	rep.RSSEndKB = processRSS(o.ServerPID)
	rep.RSSPeakKB = max(rep.RSSPeakKB, rep.RSSEndKB)
	if cpu1 := cpuTime(o.ServerPID); cpu0 >= 0 && cpu1 >= 0 {
		rep.CPU = cpu1 - cpu0
	}
	rep.BoardRows, rep.BoardWithResult = boardCounts(ctx, o.Client, o.URL)
	if rep.Joined == 0 {
		return rep, errors.New("no simulated learner could join: " + strings.Join(rep.Errors, "; "))
	}
	return rep, nil
}

// postOnce posts a result as the CLI does, without the pending file.
func postOnce(ctx context.Context, client *http.Client, m *Membership, result []byte) error {
	var resp PostResponse
	return call(ctx, client, m.URL+"/api/results", m.Token, Post{Result: result}, &resp)
}

// exportOnce sends one trace the way `up --share` does: protobuf, gzipped.
func exportOnce(ctx context.Context, client *http.Client, m *Membership, spans int) error {
	body, err := proto.Marshal(simulatedTrace(spans))
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+otlp.TracesPath, &gz)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+m.Token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: %s", resp.Status)
	}
	return nil
}

// simulatedResult is a stage-4 check result in which the learner gets one
// check further every round.
func simulatedResult(catalog []check.Check, learner, round int) []byte {
	j := check.JSON{Schema: check.JSONSchema, Stage: 4, Dir: "exercises/stage4", Runtime: "local", DurationMS: 4700, Checks: []check.JSONCheck{}}
	firstFailing := (learner + round) % (len(catalog) + 1) // len(catalog): all pass
	for k, c := range catalog {
		jc := check.JSONCheck{ID: c.ID, Title: c.Title, Status: "pass", Step: c.Step}
		if k >= firstFailing && (k == firstFailing || (learner+k)%3 == 0) {
			jc.Status, jc.Hint = "fail", c.Hint
			jc.Expected, jc.Seen = "five async_roll_N spans, children of GET /roll-async", "async_roll_1 … async_roll_5 with no parent (a new trace each)"
		}
		j.Checks = append(j.Checks, jc)
	}
	b, _ := json.Marshal(j)
	return b
}

func simulatedTrace(spans int) *coltracepb.ExportTraceServiceRequest {
	traceID := randBytes(16)
	root := randBytes(8)
	now := time.Now()
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	var list []*tracepb.Span
	for i := range spans {
		s := &tracepb.Span{TraceId: traceID, SpanId: randBytes(8), Name: "async_roll_" + strconv.Itoa(i),
			Kind: tracepb.Span_SPAN_KIND_INTERNAL, ParentSpanId: root,
			StartTimeUnixNano: uint64(now.Add(time.Duration(i) * time.Millisecond).UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Duration(i+40) * time.Millisecond).UnixNano()),
			Attributes:        []*commonpb.KeyValue{str("die.type", "fair")}}
		if i == 0 {
			s.SpanId, s.ParentSpanId, s.Name, s.Kind = root, nil, "GET /roll-async", tracepb.Span_SPAN_KIND_SERVER
		}
		list = append(list, s)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "dice-roller")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: list}},
	}}}
}

// boardCounts reads the class's export: its rows, and how many have a result.
func boardCounts(ctx context.Context, client *http.Client, url string) (rows, withResult int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/export.json", nil)
	if err != nil {
		return 0, 0
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var export []ExportRow
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&export) != nil {
		return 0, 0
	}
	for _, r := range export {
		if len(r.Stages) > 0 {
			withResult++
		}
	}
	return len(export), withResult
}

// WriteLoad prints a load report for people.
func WriteLoad(w io.Writer, o LoadOptions, r LoadReport) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "class load: %d learners (%d joined), a result and a %d-span trace each every %s, for %s (%s elapsed)\n",
		r.Learners, r.Joined, o.Spans, o.Every, o.For, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "  results posted   %6d  errors %d  p50 %s  p99 %s\n", r.Posts, r.PostErrors, ms(r.Post.P50), ms(r.Post.P99))
	fmt.Fprintf(w, "  traces sent      %6d  errors %d  p50 %s  p99 %s\n", r.Exports, r.ExportErrors, ms(r.Export.P50), ms(r.Export.P99))
	fmt.Fprintf(w, "  the board        %d rows, %d with a result\n", r.BoardRows, r.BoardWithResult)
	switch {
	case r.RSSPeakKB < 0:
		fmt.Fprintf(w, "  server           memory and CPU not measured (the server runs in this process, or not on Linux)\n")
	default:
		cpu := "n/a"
		if r.CPU >= 0 {
			cpu = fmt.Sprintf("%.1f s (%.1f%% of one core)", r.CPU.Seconds(), 100*r.CPU.Seconds()/r.Elapsed.Seconds())
		}
		fmt.Fprintf(w, "  server           RSS peak %.1f MiB, at the end %.1f MiB; CPU %s\n",
			float64(r.RSSPeakKB)/1024, float64(r.RSSEndKB)/1024, cpu)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

func processRSS(pid int) int64 {
	if pid == 0 {
		return -1
	}
	return bench.RSSKB(pid)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux the kit runs on.
const clockTicks = 100

// cpuTime is the user+system time of pid from /proc; -1 when unknown.
func cpuTime(pid int) time.Duration {
	if pid == 0 || goruntime.GOOS != "linux" {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}
