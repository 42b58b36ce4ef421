package stage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// OwnerEnv is set in every local service's environment to
// "<pid>/<run>/<service>": the pid of the CLI that started it, the run of
// that CLI (grade runs several at once) and the service. Every process the
// service starts inherits it, whatever process group or session it moves
// to: Stop finds a service's strays by it, and SweepLocal the services of a
// killed CLI.
const OwnerEnv = "WORKSHOP_RUN"

// pipeDelay bounds the wait for a service's output once it has exited: a
// child it left behind may hold its stdout open for as long as it lives.
const pipeDelay = 2 * time.Second

var localRuns atomic.Int64

// LocalOptions configure a stage run as local processes.
type LocalOptions struct {
	Dir   string // the stage module
	Stage int
	// Ports overrides ports by service; FreePorts picks unused ones instead
	// of the stage's defaults (checks run beside a learner's own stage).
	Ports     map[string]int
	FreePorts bool
	// Env is added to every service's environment (ROLL_MAX_DELAY, OTEL_*...).
	Env []string
	// Output receives each line a service prints (stdout and stderr).
	Output func(service string, line []byte)
	// BuildDir holds the binaries; BinDir of the module when empty (a
	// temporary folder when that cannot be written).
	BuildDir string
	// Ready bounds the wait for each service's /healthz.
	Ready time.Duration
	// InheritEnv passes this process's whole environment on to the
	// services. Otherwise they get PATH, a HOME (and TMPDIR) of their own in
	// a temporary folder, and the variables the stage needs (PORT, peers,
	// Env): the CLI's environment may hold tokens and keys that code being
	// checked has no business reading.
	InheritEnv bool
	// StopTimeout bounds the wait for a service to stop after SIGTERM before
	// it is killed: the services' drain and flush bounds (DefaultStopTimeout
	// when zero).
	StopTimeout time.Duration
}

// The services' own shutdown bounds (SPEC §3): on SIGTERM they drain their
// requests for up to SHUTDOWN_TIMEOUT (10 s by default), then flush their
// telemetry within 3 s.
const (
	DefaultDrain = 10 * time.Second
	FlushBound   = 3 * time.Second
)

// StopTimeout is how long a service given drain as its SHUTDOWN_TIMEOUT
// (DefaultDrain when zero) may take to stop after SIGTERM: its drain, its
// flush, and 2 s for the process to exit. Past it, it is killed.
func StopTimeout(drain time.Duration) time.Duration {
	if drain <= 0 {
		drain = DefaultDrain
	}
	return drain + FlushBound + 2*time.Second
}

// DefaultStopTimeout is StopTimeout of the services' default drain.
var DefaultStopTimeout = StopTimeout(0)

// LocalSystem is a running stage.
type LocalSystem struct {
	services    []Service
	ports       map[string]int
	procs       []*process
	tmpDirs     []string
	stopTimeout time.Duration
}

type process struct {
	service Service
	marker  string // its OwnerEnv value
	cmd     *exec.Cmd
	out     *LineWriter
	done    chan struct{}
	mu      sync.Mutex
	err     error
	// heldPipes: its output stayed open past its exit (pipeDelay), so
	// something it started still holds it.
	heldPipes bool
}

// StartLocal builds and starts the stage's services, dependencies first, and
// waits until each answers /healthz. On any failure everything started so far
// is stopped before it returns.
func StartLocal(ctx context.Context, o LocalOptions) (_ *LocalSystem, err error) {
	services, err := Layout(o.Stage)
	if err != nil {
		return nil, err
	}
	sys := &LocalSystem{services: services, ports: map[string]int{}, stopTimeout: o.StopTimeout}
	if sys.stopTimeout <= 0 {
		sys.stopTimeout = DefaultStopTimeout
	}
	defer func() {
		if err != nil {
			_ = sys.Stop(context.Background())
		}
	}()

	for _, s := range services {
		port := s.Port
		if p, ok := o.Ports[s.Name]; ok {
			port = p
		} else if o.FreePorts {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		sys.ports[s.Name] = port
	}
	// Checked before building anything: a port still held by an earlier run
	// (or by the Docker stack) is the usual way this fails.
	chosen := make([]Service, len(services))
	for i, s := range services {
		chosen[i] = Service{Name: s.Name, Port: sys.ports[s.Name]}
	}
	if err := CheckPorts(o.Stage, chosen); err != nil {
		return nil, err
	}
	host := Target{goruntime.GOOS, goruntime.GOARCH}
	buildDir := o.BuildDir
	if buildDir == "" {
		buildDir = BinDir(o.Dir, host)
		if os.MkdirAll(buildDir, 0o755) != nil { // a checkout that cannot be written
			if buildDir, err = sys.tempDir("bin"); err != nil {
				return nil, err
			}
		}
	}
	bins, err := Build(ctx, o.Dir, services, host, buildDir)
	if err != nil {
		return nil, err
	}

	base := os.Environ()
	if !o.InheritEnv {
		home, err := sys.tempDir("home")
		if err != nil {
			return nil, err
		}
		base = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home}
	}
	env := PeerEnv(services, func(s Service) string { return sys.URL(s.Name) })
	ready := o.Ready
	if ready == 0 {
		ready = 15 * time.Second
	}

	run := localRuns.Add(1)
	for _, s := range services {
		p := &process{service: s, done: make(chan struct{}),
			marker: fmt.Sprintf("%d/%d/%s", os.Getpid(), run, s.Name)}
		output := o.Output
		p.out = NewLineWriter(func(line []byte) {
			if output != nil {
				output(s.Name, line)
			}
		})
		p.cmd = exec.Command(bins[s.Name])
		p.cmd.Env = append(append(append(slices.Clip(base), env...), o.Env...),
			"PORT="+strconv.Itoa(sys.ports[s.Name]), OwnerEnv+"="+p.marker)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		p.cmd.WaitDelay = pipeDelay
		setProcessGroup(p.cmd)
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", s.Name, err)
		}
		sys.procs = append(sys.procs, p)
		go func() {
			err := p.cmd.Wait()
			p.mu.Lock()
			p.err, p.heldPipes = err, errors.Is(err, exec.ErrWaitDelay)
			p.mu.Unlock()
			close(p.done)
		}()
		if err := waitHealthy(ctx, sys.URL(s.Name), p, ready); err != nil {
			return nil, err
		}
	}
	return sys, nil
}

// URL is the base URL of a service.
func (s *LocalSystem) URL(service string) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.ports[service])
}

// Services lists the running services.
func (s *LocalSystem) Services() []Service { return s.services }

// PIDs gives the process id of each started service (for measurements such
// as resident memory); empty once stopped.
func (s *LocalSystem) PIDs() map[string]int {
	out := map[string]int{}
	for _, p := range s.procs {
		out[p.service.Name] = p.cmd.Process.Pid
	}
	return out
}

// Stop sends SIGTERM to every service (the reverse of start order, so no
// service loses a peer while it drains), waits for each to drain and flush,
// and kills what is still running when ctx ends or after the stop timeout.
// It removes the temporary binaries.
func (s *LocalSystem) Stop(ctx context.Context) error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		errs = append(errs, s.stop(ctx, s.procs[i]))
	}
	s.procs = nil
	for _, d := range s.tmpDirs {
		errs = append(errs, os.RemoveAll(d))
	}
	s.tmpDirs = nil
	return errors.Join(errs...)
}

// tempDir makes a temporary folder that Stop removes.
func (s *LocalSystem) tempDir(kind string) (string, error) {
	d, err := TempDir(kind)
	if err == nil {
		s.tmpDirs = append(s.tmpDirs, d)
	}
	return d, err
}

// StopService stops one service as Stop does; the others keep running.
func (s *LocalSystem) StopService(ctx context.Context, service string) error {
	for _, p := range s.procs {
		if p.service.Name == service {
			return s.stop(ctx, p)
		}
	}
	return fmt.Errorf("no service %s is running", service)
}

// stop sends SIGTERM to one service's process group unless it has exited
// already (its pid may be another process's by now) and waits for it; then
// it kills what the service left behind, in its group or out of it.
func (s *LocalSystem) stop(ctx context.Context, p *process) error {
	defer p.out.Flush()
	defer p.killStrays()
	select {
	case <-p.done:
		return nil
	default:
	}
	terminate(p.cmd)
	timer := time.NewTimer(s.stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		kill(p.cmd)
		<-p.done
		return nil
	case <-timer.C:
		kill(p.cmd)
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.service.Name, s.stopTimeout)
	}
}

// killStrays kills what a service that has exited left behind, in its
// process group or out of it (found by its marker), when there is a sign of
// such a process: its output held open past its exit, or its process group
// still alive. (Listing the processes costs a few milliseconds a service;
// one that slipped away without a sign is ended by KillStrays as the CLI
// finishes.)
func (p *process) killStrays() {
	p.mu.Lock()
	held := p.heldPipes
	p.mu.Unlock()
	if held || groupAlive(p.cmd) {
		killMarked(func(m string) bool { return m == p.marker })
	}
}

// Exited reports services that have exited, with their error.
func (s *LocalSystem) Exited() map[string]error {
	out := map[string]error{}
	for _, p := range s.procs {
		select {
		case <-p.done:
			p.mu.Lock()
			out[p.service.Name] = p.err
			p.mu.Unlock()
		default:
		}
	}
	return out
}

// waitHealthy waits until the process's service is healthy (WaitHealthy).
func waitHealthy(ctx context.Context, base string, p *process, limit time.Duration) error {
	err := WaitHealthy(ctx, base, limit, func() error {
		select {
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("%s exited during startup (%v)", p.service.Name, p.err)
		default:
			return nil
		}
	})
	if errors.Is(err, ErrNoHealthy) {
		return fmt.Errorf("%s did not answer GET /healthz within %s", p.service.Name, limit)
	}
	return err
}

// ErrNoHealthy is WaitHealthy's error when no 200 came within its limit.
var ErrNoHealthy = errors.New("no answer to GET /healthz")

// WaitHealthy polls base+"/healthz" every 50 ms until it answers 200 (nil),
// gone reports that the service has stopped (its error, which ends the
// wait at once), or limit passes or ctx ends (ErrNoHealthy). It is the one
// readiness wait of local processes and containers alike.
func WaitHealthy(ctx context.Context, base string, limit time.Duration, gone func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := gone(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ErrNoHealthy
		case <-tick.C:
		}
	}
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on right now
// (the kernel's choice): for a run beside others, such as a check next to a
// learner's own stage.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// CheckPorts fails, saying what to do, when a port of the services of stage
// n is in use.
func CheckPorts(n int, services []Service) error {
	for _, s := range services {
		if !PortFree(s.Port) {
			return fmt.Errorf("port %d of the %s is already in use (is stage %d still running, in another terminal "+
				"or in Docker?): stop what holds it; `workshop doctor` names it", s.Port, s.Name, n)
		}
	}
	return nil
}

// PortFree reports whether a service could listen on port the way the
// services do (every interface): the check before a run on the stage's own
// ports, and what doctor reports.
func PortFree(port int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
