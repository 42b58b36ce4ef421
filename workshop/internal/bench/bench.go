// Package bench measures a stage on this machine: sync against async
// rolling (stage 4), the cost of the instrumentation, and each service's
// footprint. The arithmetic is in small functions tested on known inputs;
// the measurements themselves are never asserted, since machines differ.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/traffic"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Options configure a benchmark.
type Options struct {
	Dir      string // the stage module (the reference: stages/stageN)
	Stage    int
	Repeat   int // sync/async rounds; 5 when 0
	Requests int // requests per side of the overhead comparison; 2000 when 0
	Clients  int // concurrent clients for the overhead comparison; 4 when 0
	// Progress receives one line per phase, for people waiting; may be nil.
	Progress io.Writer
}

// Rolls is the batch size of the sync/async comparison, and MaxDelay the
// ROLL_MAX_DELAY it runs with.
const (
	Rolls    = 10
	MaxDelay = 200 * time.Millisecond
)

// Report is the stable result of `workshop bench N --json`. Durations are
// in milliseconds, memory in KiB, sizes in bytes.
type Report struct {
	Stage     int        `json:"stage"`
	Machine   Machine    `json:"machine"`
	SyncAsync *SyncAsync `json:"sync_async,omitempty"` // stage 4 only
	Overhead  *Overhead  `json:"overhead"`
	Footprint *Footprint `json:"footprint"`
	Notes     []string   `json:"notes,omitempty"`
}

// Machine describes where the numbers come from.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
}

// Round is one sync/async repetition.
type Round struct {
	SyncMS  float64 `json:"sync_ms"`
	AsyncMS float64 `json:"async_ms"`
	Speedup float64 `json:"speedup"`
}

// SyncAsync compares Rolls sequential /roll calls with one /roll-async of
// Rolls dice on the dice-roller.
type SyncAsync struct {
	Rolls            int     `json:"rolls"`
	MaxDelayMS       float64 `json:"max_delay_ms"`
	Rounds           []Round `json:"rounds"`
	SyncMedianMS     float64 `json:"sync_median_ms"`
	AsyncMedianMS    float64 `json:"async_median_ms"`
	Speedup          float64 `json:"speedup"`           // median of the rounds' speedups
	TheoreticalLimit float64 `json:"theoretical_limit"` // E[sum]/E[max] of uniform delays
	RatioToLimit     float64 `json:"ratio_to_limit"`    // Speedup / TheoreticalLimit
}

// Load is one side of the overhead comparison.
type Load struct {
	Requests      int     `json:"requests"`
	Errors        int     `json:"errors"`
	ThroughputRPS float64 `json:"throughput_rps"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
}

// Overhead compares the dice-roller with full telemetry against the same
// binary with OTEL_SDK_DISABLED=true, with ROLL_MAX_DELAY=0.
type Overhead struct {
	Clients   int  `json:"clients"`
	Telemetry Load `json:"telemetry"`
	Disabled  Load `json:"disabled"`
	// Percent is the extra time per request with telemetry, from throughput:
	// (disabled rps / telemetry rps − 1) × 100.
	Percent float64 `json:"overhead_percent"`
	// SpansExported counts the OTLP requests the in-process sink received.
	OTLPRequests int `json:"otlp_requests"`
}

// ServiceFootprint is one service's size and memory. RSS is -1 where the
// platform does not tell (only Linux's /proc is read).
type ServiceFootprint struct {
	Service     string `json:"service"`
	BinaryBytes int64  `json:"binary_bytes"`
	RSSIdleKB   int64  `json:"rss_idle_kib"`
	RSSLoadedKB int64  `json:"rss_loaded_kib"`
}

// Footprint lists each service's, measured on the run with telemetry.
type Footprint struct {
	Services []ServiceFootprint `json:"services"`
}

// TheoreticalSpeedup is the expected speedup of running n rolls at once
// instead of one after the other, when each delay is uniform on [0, D):
// E[sum] = n·D/2, E[max] = n·D/(n+1), so the ratio is (n+1)/2 (5.5 for 10).
func TheoreticalSpeedup(n int) float64 {
	if n < 1 {
		return 0
	}
	eSum := float64(n) / 2
	eMax := float64(n) / float64(n+1)
	return eSum / eMax
}

// Median of the values (the mean of the middle two for an even count); 0
// when empty. The input is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Summarize fills the medians, the speedup and the limit from the rounds.
func Summarize(rolls int, rounds []Round) SyncAsync {
	sa := SyncAsync{Rolls: rolls, Rounds: rounds, TheoreticalLimit: TheoreticalSpeedup(rolls)}
	var syncs, asyncs, speedups []float64
	for i := range sa.Rounds {
		r := &sa.Rounds[i]
		if r.AsyncMS > 0 {
			r.Speedup = r.SyncMS / r.AsyncMS
		}
		syncs, asyncs, speedups = append(syncs, r.SyncMS), append(asyncs, r.AsyncMS), append(speedups, r.Speedup)
	}
	sa.SyncMedianMS, sa.AsyncMedianMS, sa.Speedup = Median(syncs), Median(asyncs), Median(speedups)
	if sa.TheoreticalLimit > 0 {
		sa.RatioToLimit = sa.Speedup / sa.TheoreticalLimit
	}
	return sa
}

// OverheadPercent is how much longer a request takes with telemetry, from
// the throughputs with it disabled and enabled.
func OverheadPercent(disabledRPS, telemetryRPS float64) float64 {
	if telemetryRPS <= 0 {
		return 0
	}
	return (disabledRPS/telemetryRPS - 1) * 100
}

// LoadFrom summarises latencies measured over elapsed.
func LoadFrom(latencies []time.Duration, errs int, elapsed time.Duration) Load {
	l := traffic.Summarize(latencies)
	out := Load{Requests: l.Count + errs, Errors: errs, P50MS: msf(l.P50), P99MS: msf(l.P99)}
	if elapsed > 0 {
		out.ThroughputRPS = float64(out.Requests) / elapsed.Seconds()
	}
	return out
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run measures stage o.Stage. Every process it starts is stopped before it
// returns, also when ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	if _, err := stage.Layout(o.Stage); err != nil {
		return nil, err
	}
	if o.Repeat <= 0 {
		o.Repeat = 5
	}
	if o.Requests <= 0 {
		o.Requests = 2000
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	rep := &Report{Stage: o.Stage, Machine: machine()}
	bin, err := os.MkdirTemp("", "workshop-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bin)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	if o.Stage == 4 {
		fmt.Fprintf(o.Progress, "sync vs async: %d × /roll against one /roll-async?times=%d, ROLL_MAX_DELAY=%s, %d rounds\n", Rolls, Rolls, MaxDelay, o.Repeat)
		sa, err := syncAsync(ctx, o, bin, client)
		if err != nil {
			return nil, err
		}
		rep.SyncAsync = sa
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("sync vs async: stage %d has no /roll-async (stage 4 adds it); skipped", o.Stage))
	}

	fmt.Fprintf(o.Progress, "instrumentation overhead: %d requests from %d clients, telemetry off then on\n", o.Requests, o.Clients)
	ov, fp, err := overhead(ctx, o, bin, client)
	if err != nil {
		return nil, err
	}
	rep.Overhead, rep.Footprint = ov, fp
	if goruntime.GOOS != "linux" {
		rep.Notes = append(rep.Notes, "resident memory: n/a on "+goruntime.GOOS+" (read from /proc on Linux only)")
	}
	return rep, nil
}

func start(ctx context.Context, o Options, bin string, env ...string) (*stage.LocalSystem, error) {
	return stage.StartLocal(ctx, stage.LocalOptions{Dir: o.Dir, Stage: o.Stage, FreePorts: true, Env: env, BuildDir: bin})
}

func stop(sys *stage.LocalSystem) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = sys.Stop(ctx)
}

func syncAsync(ctx context.Context, o Options, bin string, client *http.Client) (*SyncAsync, error) {
	sys, err := start(ctx, o, bin, "ROLL_MAX_DELAY="+MaxDelay.String(), "OTEL_SDK_DISABLED=true")
	if err != nil {
		return nil, err
	}
	defer stop(sys)
	roller := sys.URL("dice-roller")
	// One warm-up of each, so connection setup is not measured.
	if _, err := timed(ctx, client, roller+"/roll?die=fair"); err != nil {
		return nil, err
	}
	var rounds []Round
	for range o.Repeat {
		var r Round
		t0 := time.Now()
		for range Rolls {
			if _, err := timed(ctx, client, roller+"/roll?die=fair"); err != nil {
				return nil, err
			}
		}
		r.SyncMS = msf(time.Since(t0))
		d, err := timed(ctx, client, roller+"/roll-async?die=fair&times="+strconv.Itoa(Rolls))
		if err != nil {
			return nil, err
		}
		r.AsyncMS = msf(d)
		rounds = append(rounds, r)
	}
	sa := Summarize(Rolls, rounds)
	sa.MaxDelayMS = msf(MaxDelay)
	return &sa, nil
}

// timed sends one GET and requires a 200.
func timed(ctx context.Context, client *http.Client, url string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return d, nil
}

// sink is an OTLP/HTTP endpoint that accepts everything and keeps nothing.
type sink struct {
	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	hits int
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/") {
			s.mu.Lock()
			s.hits++
			s.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) URL() string { return "http://" + s.ln.Addr().String() }

func (s *sink) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

func (s *sink) Close() { _ = s.srv.Close() }

func overhead(ctx context.Context, o Options, bin string, client *http.Client) (*Overhead, *Footprint, error) {
	ov := &Overhead{Clients: o.Clients}
	base := []string{"ROLL_MAX_DELAY=0"}

	off, err := start(ctx, o, bin, append(base, "OTEL_SDK_DISABLED=true")...)
	if err != nil {
		return nil, nil, err
	}
	ov.Disabled, err = load(ctx, client, off.URL("dice-roller"), o.Requests, o.Clients)
	stop(off)
	if err != nil {
		return nil, nil, err
	}

	sk, err := newSink()
	if err != nil {
		return nil, nil, err
	}
	defer sk.Close()
	on, err := start(ctx, o, bin, append(base, "OTEL_SDK_DISABLED=false", "OTEL_EXPORTER_OTLP_ENDPOINT="+sk.URL(), "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")...)
	if err != nil {
		return nil, nil, err
	}
	defer stop(on)
	fp := &Footprint{}
	pids := on.PIDs()
	for _, s := range on.Services() {
		f := ServiceFootprint{Service: s.Name, RSSIdleKB: RSSKB(pids[s.Name]), RSSLoadedKB: -1}
		if fi, err := os.Stat(binary(bin, s.Name)); err == nil {
			f.BinaryBytes = fi.Size()
		}
		fp.Services = append(fp.Services, f)
	}
	ov.Telemetry, err = load(ctx, client, on.URL("dice-roller"), o.Requests, o.Clients)
	if err != nil {
		return nil, nil, err
	}
	for i := range fp.Services {
		fp.Services[i].RSSLoadedKB = RSSKB(pids[fp.Services[i].Service])
	}
	stop(on) // flushes the last batch to the sink
	ov.OTLPRequests = sk.Hits()
	ov.Percent = OverheadPercent(ov.Disabled.ThroughputRPS, ov.Telemetry.ThroughputRPS)
	return ov, fp, nil
}

func binary(dir, service string) string {
	p := dir + string(os.PathSeparator) + service
	if goruntime.GOOS == "windows" {
		p += ".exe"
	}
	return p
}

// load sends n GET /roll?die=fair from clients goroutines, after a short
// warm-up, and summarises them.
func load(ctx context.Context, client *http.Client, base string, n, clients int) (Load, error) {
	url := base + "/roll?die=fair"
	for range min(n/10, 200) {
		if _, err := timed(ctx, client, url); err != nil {
			return Load{}, err
		}
	}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, n)
		errs      int
		next      = make(chan struct{})
		wg        sync.WaitGroup
	)
	t0 := time.Now()
	for range clients {
		wg.Go(func() {
			for range next {
				d, err := timed(ctx, client, url)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		if ctx.Err() != nil {
			break
		}
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return Load{}, err
	}
	if errs == n {
		return Load{}, errors.New("every request of the load failed")
	}
	return LoadFrom(latencies, errs, elapsed), nil
}

// RSSKB reads VmRSS (resident memory, KiB) of pid from /proc; -1 where
// that is not available.
func RSSKB(pid int) int64 {
	if goruntime.GOOS != "linux" || pid == 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	return parseVmRSS(string(b))
}

// parseVmRSS finds "VmRSS:   12345 kB" in a /proc/<pid>/status; -1 when absent.
func parseVmRSS(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func machine() Machine {
	m := Machine{OS: goruntime.GOOS, Arch: goruntime.GOARCH, CPUs: goruntime.NumCPU(), GoVersion: goruntime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// WriteTable prints the report for people.
func WriteTable(w io.Writer, r *Report) {
	m := r.Machine
	cpu := ""
	if m.CPUModel != "" {
		cpu = ", " + m.CPUModel
	}
	fmt.Fprintf(w, "workshop bench %d — %s/%s, %d CPUs%s, %s\n", r.Stage, m.OS, m.Arch, m.CPUs, cpu, m.GoVersion)
	if sa := r.SyncAsync; sa != nil {
		fmt.Fprintf(w, "\nSync vs async (dice-roller, %d fair rolls, ROLL_MAX_DELAY=%gms, telemetry off)\n", sa.Rolls, sa.MaxDelayMS)
		fmt.Fprintln(w, "  round    sync (ms)   async (ms)   speedup")
		for i, rd := range sa.Rounds {
			fmt.Fprintf(w, "  %5d %12.1f %12.1f %8.2f×\n", i+1, rd.SyncMS, rd.AsyncMS, rd.Speedup)
		}
		fmt.Fprintf(w, "  median %11.1f %12.1f %8.2f×\n", sa.SyncMedianMS, sa.AsyncMedianMS, sa.Speedup)
		fmt.Fprintf(w, "  theoretical limit E[sum]/E[max] = (n+1)/2 = %.2f×; measured/limit = %.0f%%\n", sa.TheoreticalLimit, sa.RatioToLimit*100)
	}
	if ov := r.Overhead; ov != nil {
		fmt.Fprintf(w, "\nInstrumentation overhead (dice-roller GET /roll?die=fair, ROLL_MAX_DELAY=0, %d requests, %d clients)\n", ov.Telemetry.Requests, ov.Clients)
		fmt.Fprintln(w, "  telemetry              req/s   p50 (ms)   p99 (ms)   errors")
		for _, l := range []struct {
			name string
			l    Load
		}{{"off (SDK disabled)", ov.Disabled}, {"on (OTLP export)", ov.Telemetry}} {
			fmt.Fprintf(w, "  %-19s %8.0f %10.3f %10.3f %8d\n", l.name, l.l.ThroughputRPS, l.l.P50MS, l.l.P99MS, l.l.Errors)
		}
		fmt.Fprintf(w, "  overhead: %+.1f%% time per request (%d OTLP exports received by the sink)\n", ov.Percent, ov.OTLPRequests)
	}
	if fp := r.Footprint; fp != nil {
		fmt.Fprintln(w, "\nFootprint (telemetry on)")
		fmt.Fprintln(w, "  service        binary (MiB)   RSS idle (MiB)   RSS after load (MiB)")
		svcs := slices.Clone(fp.Services)
		sort.SliceStable(svcs, func(i, j int) bool { return svcs[i].Service < svcs[j].Service })
		for _, s := range svcs {
			fmt.Fprintf(w, "  %-14s %12.1f %16s %22s\n", s.Service, float64(s.BinaryBytes)/(1<<20), mib(s.RSSIdleKB), mib(s.RSSLoadedKB))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
}

func mib(kb int64) string {
	if kb < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(kb)/1024, 'f', 1, 64)
}

// WriteJSON prints the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
