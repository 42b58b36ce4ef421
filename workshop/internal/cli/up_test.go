package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func TestUpUsageErrors(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"up"}, "up needs one stage: workshop up 4"},
		{[]string{"up", "9"}, "no stage 9; stages are 1–4"},
		{[]string{"up", "1", "--break", "background-context"}, "break background-context applies to stage 4, not stage 1"},
		{[]string{"up", "1", "--break", "no-propagator"}, "break no-propagator applies to stages 2–4, not stage 1"},
		{[]string{"up", "4", "--break", "nope"}, `no break "nope"; valid: ` + strings.Join(breaks.Names(), ", ")},
		{[]string{"up", "4", "--break", "no-flush", "--exercise"}, "does not combine with --exercise"},
		{[]string{"up", "4", "--otlp-port", "70000"}, "--otlp-port 70000 is not a port"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, root, tt.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
}

func TestUpExerciseNotThereYet(t *testing.T) {
	code, _, stderr := run(t, fixtureRepo(t), "up", "3", "--exercise")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "exercises/stage3 does not exist yet")
}

func TestUpBreakList(t *testing.T) {
	code, stdout, _ := run(t, fixtureRepo(t), "up", "--break", "list")
	assert.Equal(t, 0, code)
	for _, b := range breaks.All {
		assert.Contains(t, stdout, b.Name+strings.Repeat(" ", 20-len(b.Name))+" "+b.StageRange())
		assert.Contains(t, stdout, b.Summary)
	}

	_, stdout, _ = run(t, fixtureRepo(t), "up", "1", "--break", "list")
	assert.NotContains(t, stdout, "no-propagator", "stage 1 has no propagation to break")
	assert.Contains(t, stdout, "no-flush")
}

func TestUpOutput(t *testing.T) {
	services, err := stage.Layout(3)
	require.NoError(t, err)
	for _, tt := range []struct {
		terminal bool
		noColor  string
		want     string
	}{
		{false, "", "frontend    | {\"message\":\"hi\"}\n"},
		{true, "1", "frontend    | {\"message\":\"hi\"}\n"},
		{true, "", "\x1b[35mfrontend    |\x1b[0m {\"message\":\"hi\"}\n"},
	} {
		t.Setenv("NO_COLOR", tt.noColor)
		var buf bytes.Buffer
		o := newUpOutput(&Env{Stdout: &buf, Terminal: tt.terminal}, services)
		o.line("frontend", []byte(`{"message":"hi"}`))
		assert.Equal(t, tt.want, buf.String())
	}
}

// TestFlushSummary: the closing line of `up` says what the final flush
// means: spans it saved, nothing to save (expected), or spans lost.
func TestFlushSummary(t *testing.T) {
	saved := flushSummary(4, 3, 0, true, true)
	assert.Contains(t, saved, "final flush delivered 3 spans: the spans of the last requests, still waiting in the batcher")
	assert.Contains(t, saved, "workshop up 4 --break no-flush")

	quiet := flushSummary(1, 0, 0, false, false)
	assert.Contains(t, quiet, "delivered no span, as expected: no request came in during the last moments")

	alreadySent := flushSummary(1, 0, 0, true, true)
	assert.Contains(t, alreadySent, "as expected", "requests whose spans all arrived before the stop left nothing to flush")

	lost := flushSummary(2, 1, 2, true, true)
	assert.Contains(t, lost, "2 request(s) answered in the last moments never had their spans arrive (1 span did")
	assert.Contains(t, lost, "Shutdown must run on exit (step 1.1)")
	assert.Contains(t, lost, "workshop up 2 --break no-flush")

	untraced := flushSummary(1, 0, 0, false, true)
	assert.Contains(t, untraced, "though the services were answering requests just before you stopped")
}

// TestUpRemembersRecentTraceIDs: the lines the services log after starting
// feed the closing line; old ones and startup lines do not.
func TestUpRemembersRecentTraceIDs(t *testing.T) {
	services, err := stage.Layout(1)
	require.NoError(t, err)
	o := newUpOutput(&Env{Stdout: io.Discard}, services)
	t0 := time.Now()
	o.remember([]byte(`{"message":"dice-roller started","trace_id":"0000"}`), t0)
	o.started = t0
	o.remember([]byte(`{"message":"roll result","trace_id":"aaaa"}`), t0.Add(-5*time.Second))
	o.remember([]byte(`{"message":"roll result","trace_id":"bbbb"}`), t0.Add(-time.Second))
	o.remember([]byte(`not json`), t0.Add(-time.Second))
	o.remember([]byte(`{"message":"roll result","trace_id":"cccc"}`), t0.Add(time.Second)) // finished while stopping
	o.lastLine = t0.Add(-time.Second)
	ids, busy := o.pending(t0)
	assert.Equal(t, []string{"bbbb", "cccc"}, ids)
	assert.True(t, busy)
	_, busy = o.pending(t0.Add(time.Minute))
	assert.False(t, busy, "a minute of silence")
	for i := range 2 * maxTraced {
		o.remember(fmt.Appendf(nil, `{"trace_id":"%d"}`, i), t0)
	}
	assert.LessOrEqual(t, len(o.traced), maxTraced, "bounded")
}

// TestUp runs the real CLI as a subprocess, as `make stage1` does, and
// signals it like a terminal's Ctrl-C.
func TestUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs stage 1")
	}
	if goruntime.GOOS != "linux" {
		t.Skip("finds the services' processes in /proc")
	}
	root, err := repo.Root(".")
	require.NoError(t, err)
	bin := buildWorkshop(t, root)

	t.Run("runs stage 1 with the viewer and stops clean", func(t *testing.T) {
		skipUnlessFree(t, 8100)
		viewerPort, otlpPort := freePort(t), freePort(t)
		p := startUp(t, bin, root, "up", "1", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort))
		viewerURL := "http://localhost:" + strconv.Itoa(viewerPort)
		p.waitOutput(t, "Ctrl-C stops everything")
		out := p.out.String()
		assert.Contains(t, out, "dice-roller  http://localhost:8100")
		assert.Contains(t, out, "viewer       "+viewerURL)
		assert.Contains(t, out, "otlp         http://localhost:"+strconv.Itoa(otlpPort))
		assert.Contains(t, out, `dice-roller | {"timestamp"`, "the service's lines are prefixed with its name")
		services := childPIDs(p.cmd.Process.Pid)
		require.Len(t, services, 1, "one service process: the dice-roller")

		assert.Equal(t, http.StatusOK, get(t, "http://127.0.0.1:8100/roll?die=fair").status)
		// Nobody else on the room's network reaches the receiver, the viewer
		// or the service: everything listens on loopback only.
		assertLoopbackOnly(t, otlpPort, viewerPort, 8100)
		assert.Eventually(t, func() bool { return strings.Contains(get(t, viewerURL+"/").body, "GET /roll") },
			30*time.Second, 100*time.Millisecond, "the viewer lists the trace")
		assert.Eventually(t, func() bool { return strings.Contains(get(t, viewerURL+"/logs").body, "roll result") },
			30*time.Second, 100*time.Millisecond, "the viewer shows the service's log line")

		require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
		assert.Equal(t, 0, p.wait(t), p.out.String())
		assert.Contains(t, p.out.String(), "stopped; nothing left running")
		// The roll's spans were in the viewer before the stop: nothing waited.
		assert.Contains(t, p.out.String(), "The final flush delivered no span, as expected")
		for _, pid := range services {
			assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the dice-roller (pid %d) is gone", pid)
		}
		assertFree(t, ":8100", "127.0.0.1:"+strconv.Itoa(viewerPort), "0.0.0.0:"+strconv.Itoa(otlpPort))
	})

	t.Run("--share sends the telemetry to the class too", func(t *testing.T) { testUpShare(t, bin, root) })

	// Rolling until the stop leaves spans in the batcher: the closing line
	// says the flush sent them, or, with the flush broken, that they are lost.
	for _, tt := range []struct {
		name, want string
		args       []string
	}{
		{"the final flush sends the last spans", "The services' final flush delivered", nil},
		{"a missing flush is called out", "never had their spans arrive", []string{"--break", "no-flush"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			skipUnlessFree(t, 8100)
			viewerPort, otlpPort := freePort(t), freePort(t)
			args := append([]string{"up", "1", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort)}, tt.args...)
			p := startUp(t, bin, root, args...)
			p.waitOutput(t, "Ctrl-C stops everything")
			// Three users, so that a roll is in flight when the stop comes.
			stops := []func(){}
			for range 3 {
				stops = append(stops, rollUntilStopped(t, "http://127.0.0.1:8100/roll?die=fair"))
			}
			stopRolling := func() {
				for _, stop := range stops {
					stop()
				}
			}
			p.waitOutput(t, `"message":"roll result"`)
			require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
			assert.Equal(t, 0, p.wait(t), p.out.String())
			stopRolling()
			assert.Contains(t, p.out.String(), tt.want)
			assertFree(t, ":8100")
		})
	}

	t.Run("the services of a killed run are stopped by the next one", func(t *testing.T) {
		skipUnlessFree(t, 8100)
		viewerPort, otlpPort := freePort(t), freePort(t)
		args := []string{"up", "1", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort)}
		killed := startUp(t, bin, root, args...)
		killed.waitOutput(t, "Ctrl-C stops everything")
		services := childPIDs(killed.cmd.Process.Pid)
		require.Len(t, services, 1)
		t.Cleanup(func() { _ = syscall.Kill(-services[0], syscall.SIGKILL) })

		require.NoError(t, killed.cmd.Process.Kill()) // SIGKILL: no chance to stop the dice-roller
		killed.wait(t)
		require.NoError(t, syscall.Kill(services[0], 0), "the dice-roller outlives the killed CLI")

		p := startUp(t, bin, root, args...)
		p.waitOutput(t, "Ctrl-C stops everything")
		assert.Contains(t, p.out.String(), "stopped 1 service process(es) left running by an earlier workshop run that was killed")
		// Stopped; its new parent (init, or a subreaper) collects it soon after.
		assert.Eventually(t, func() bool { return errors.Is(syscall.Kill(services[0], 0), syscall.ESRCH) },
			5*time.Second, 20*time.Millisecond, "the orphaned dice-roller (pid %d) is gone", services[0])
		assert.Equal(t, http.StatusOK, get(t, "http://127.0.0.1:8100/roll?die=fair").status, "the new run has the port")
		require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
		assert.Equal(t, 0, p.wait(t), p.out.String())
		assertFree(t, ":8100")
	})

	t.Run("a taken service port stops it before anything runs", func(t *testing.T) {
		held, err := net.Listen("tcp", ":8100")
		if err != nil {
			t.Skipf("port 8100 is in use on this machine (%v)", err)
		}
		defer held.Close()
		viewerPort, otlpPort := freePort(t), freePort(t)
		p := startUp(t, bin, root, "up", "1", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort))
		assert.Equal(t, 1, p.wait(t))
		out := p.out.String()
		assert.Contains(t, out, "port 8100 of the dice-roller is already in use")
		assert.NotContains(t, out, "building", "nothing was built or started")
		assertFree(t, "127.0.0.1:"+strconv.Itoa(viewerPort), "0.0.0.0:"+strconv.Itoa(otlpPort))
	})

	t.Run("a taken OTLP port gets the telemetry and the viewer is skipped", func(t *testing.T) {
		skipUnlessFree(t, 8100)
		// Another receiver (the Docker stack's Alloy, say) holds the port.
		store := otlp.NewStore(otlp.DefaultLimits)
		var posts atomic.Int32
		receiver := otlp.NewReceiver(store)
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() {
			served <- otlp.Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == otlp.TracesPath {
					posts.Add(1)
				}
				receiver.ServeHTTP(w, r)
			}))
		}()
		defer func() { cancel(); <-served }()
		otlpPort := ln.Addr().(*net.TCPAddr).Port
		viewerPort := freePort(t)

		p := startUp(t, bin, root, "up", "1", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort))
		p.waitOutput(t, "Ctrl-C stops everything")
		out := p.out.String()
		assert.Contains(t, out, "port "+strconv.Itoa(otlpPort)+" is already taken (the Docker stack's Alloy?): "+
			"the services send their telemetry there, and the built-in viewer is off.")
		assert.NotContains(t, out, "viewer       http")
		assertFree(t, "127.0.0.1:"+strconv.Itoa(viewerPort)) // no viewer listening

		assert.Equal(t, http.StatusOK, get(t, "http://127.0.0.1:8100/roll?die=fair").status)
		wait, cancelWait := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancelWait()
		require.NoError(t, store.WaitFor(wait, func(s *otlp.Store) bool {
			for _, tr := range s.Traces(0) {
				if r := tr.Root(); r.Service == "dice-roller" && r.Name == "GET /roll" {
					return true
				}
			}
			return false
		}), "the dice-roller's span reaches the receiver that holds the port")
		assert.Positive(t, posts.Load())

		require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
		assert.Equal(t, 0, p.wait(t), p.out.String())
		assertFree(t, ":8100")
	})
}

// rollUntilStopped sends rolls one after the other, as a user clicking
// fast would, until the returned func is called.
func rollUntilStopped(t *testing.T, url string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return
			}
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// buildWorkshop builds the CLI into a temporary folder, with the race
// detector when the test has it.
func buildWorkshop(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "workshop")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/workshop")...)
	cmd.Dir = filepath.Join(root, "workshop")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the workshop CLI:\n%s", out)
	return bin
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// upProcess is a running `workshop up`.
type upProcess struct {
	cmd  *exec.Cmd
	out  *watchedBuffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startUp starts the CLI in a process group of its own. If the test ends
// early, cleanup interrupts it as Ctrl-C would, and kills it, and the
// services it started, if that does not stop them.
func startUp(t *testing.T, bin, root string, args ...string) *upProcess {
	t.Helper()
	p := &upProcess{out: newWatchedBuffer(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "WORKSHOP_ROOT="+root, "NO_COLOR=1")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	pid := p.cmd.Process.Pid
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		children := childPIDs(pid)
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			for _, c := range children {
				_ = syscall.Kill(-c, syscall.SIGKILL)
			}
			<-p.done
		}
		t.Logf("workshop output:\n%s", p.out.String())
	})
	return p
}

// waitOutput waits until the output holds s, or fails the test.
func (p *upProcess) waitOutput(t *testing.T, s string) {
	t.Helper()
	// Generous: the first run builds the stage, on a busy machine.
	deadline := time.After(3 * time.Minute)
	for {
		changed := p.out.Changed()
		if strings.Contains(p.out.String(), s) {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			require.Contains(t, p.out.String(), s, "workshop exited (%v)", p.err)
			return
		case <-deadline:
			require.FailNow(t, "workshop never printed "+strconv.Quote(s), p.out.String())
		}
	}
}

// wait waits for the process to exit and returns its status.
func (p *upProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		require.FailNow(t, "workshop did not exit", p.out.String())
	}
	if exit, ok := errors.AsType[*exec.ExitError](p.err); ok {
		return exit.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// watchedBuffer is an output buffer that tells when it grows.
type watchedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchedBuffer() *watchedBuffer { return &watchedBuffer{changed: make(chan struct{})} }

func (b *watchedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *watchedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Changed is closed at the next write.
func (b *watchedBuffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range dirs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if n, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

type response struct {
	status int
	body   string
}

func get(t *testing.T, url string) response {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return response{}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(body)}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func skipUnlessFree(t *testing.T, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("port %d, which `workshop up` uses, is in use on this machine (%v)", port, err)
	}
	ln.Close()
}

// assertFree asserts that nothing listens on the addresses any more.
// assertLoopbackOnly asserts that ports answer on loopback and not on this
// machine's other addresses, where the room's network would reach them.
func assertLoopbackOnly(t *testing.T, ports ...int) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	var lan []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			lan = append(lan, n.IP)
		}
	}
	if len(lan) == 0 {
		t.Log("no address but loopback on this machine: nothing to reach the ports from")
	}
	for _, port := range ports {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if assert.NoError(t, err, "port %d answers on loopback", port) {
			c.Close()
		}
		for _, ip := range lan {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)), 2*time.Second)
			if !assert.Error(t, err, "port %d answers on %s, where the room's network reaches it", port, ip) {
				c.Close()
			}
		}
	}
}

func assertFree(t *testing.T, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if assert.NoError(t, err, "%s is still held", addr) {
			ln.Close()
		}
	}
}
