// Package runtime runs a stage as containers: the services are built on
// this machine by package stage and packed with its one image recipe.
// The containers run learners' code, so they are locked down (see
// harden): an unprivileged user with no capabilities, a read-only root,
// bounded memory, processes and CPU, and an internal network with no
// route anywhere, not even to this machine. A relay container (./relay,
// the CLI's own code) is the one way in and out: it publishes the
// services' ports on this machine's loopback and forwards the services'
// OTLP to the CLI's receiver. Whatever happens, nothing is left behind (see
// Sweep for what a killed run left). Running a stage as local processes is
// package stage's job.
package runtime

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Label marks everything a docker run creates (containers, images, the
// network), with the CLI's pid as value, so leftovers of a killed run can be
// found and removed by the next one (see Sweep).
const Label = "io.github.go-o11y-workshop.run"

// DockerOptions configure a stage run as containers.
type DockerOptions struct {
	Dir   string // the stage module
	Stage int
	// Env is added to every service's environment.
	Env []string
	// OTLPPort is the port of the CLI's OTLP receiver on this machine; the
	// containers reach it as host.docker.internal. 0: no endpoint is set.
	OTLPPort int
	// Output receives each line a service prints.
	Output func(service string, line []byte)
	// Ready bounds the wait for each service's /healthz.
	Ready time.Duration
	// BuildLog receives what the engine says as it loads the images
	// (default: discarded).
	BuildLog io.Writer
	// StopTimeout bounds the wait for a container to stop after SIGTERM
	// before it is killed (stage.DefaultStopTimeout when zero).
	StopTimeout time.Duration
}

// DockerSystem is a stage running as containers on a private network.
type DockerSystem struct {
	services    []stage.Service
	networks    []string                                   // ids: the internal one, the relay's outer one
	containers  map[string]*testcontainers.DockerContainer // by service, and the relay
	images      []string
	urls        map[string]string
	writers     []*stage.LineWriter
	tmpDirs     []string
	stopTimeout time.Duration
}

// The limits of each container: a stage's service needs some 20 MB and a
// handful of threads.
const (
	memoryLimit = 256 << 20
	pidsLimit   = 128
	cpuLimit    = 1e9 // nano CPUs: one CPU
)

// relayName is the relay's name on the internal network; relayOTLPPort is
// where it takes the services' OTLP.
const (
	relayName     = "workshop-relay"
	relayOTLPPort = 4318
)

//go:embed relay/main.go
var relaySource []byte

// harden locks a container down: it runs learners' code.
func harden(hc *container.HostConfig) {
	hc.CapDrop = []string{"ALL"}
	hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges:true")
	hc.ReadonlyRootfs = true
	hc.Tmpfs = map[string]string{"/tmp": "rw,noexec,nosuid,size=16m"}
	hc.Memory, hc.MemorySwap = memoryLimit, memoryLimit // no swap beyond it
	pids := int64(pidsLimit)
	hc.PidsLimit = &pids
	hc.NanoCPUs = cpuLimit
}

// publishOnLoopback binds each port on this machine's loopback only (the
// engine's default is every interface: anyone on the room's network).
func publishOnLoopback(hc *container.HostConfig, ports []string) {
	if hc.PortBindings == nil {
		hc.PortBindings = mobynet.PortMap{}
	}
	for _, p := range ports {
		hc.PortBindings[mobynet.MustParsePort(p)] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
	}
}

var (
	prepareOnce sync.Once
	runCounter  atomic.Int64
)

// prepareTestcontainers sets what testcontainers-go reads once, before its
// first use: no Ryuk reaper (its image would have to be pulled, and we clean
// up ourselves), a quiet logger, and, when this CLI runs inside a container
// next to a local engine, "localhost" as the address of published ports (the
// library's guess is the gateway, which is not reachable from here).
func prepareTestcontainers() {
	prepareOnce.Do(func() {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		tclog.SetDefault(tclog.NewNoopLogger())
		if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && insideContainerWithLocalEngine() {
			_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
		}
	})
}

func insideContainerWithLocalEngine() bool {
	if _, err := os.Stat("/.dockerenv"); err != nil {
		return false
	}
	host := os.Getenv("DOCKER_HOST")
	return host == "" || strings.HasPrefix(host, "unix://")
}

// Engine describes a reachable Docker engine.
type Engine struct {
	Version string
	Arch    string // GOARCH of the engine's machine
	Host    string // where it answers, e.g. unix:///var/run/docker.sock
}

// DetectEngine pings the engine. The library's own error for a missing
// engine talks about rootless Docker; this one says what to do.
func DetectEngine(ctx context.Context) (eng Engine, err error) {
	prepareTestcontainers()
	defer func() {
		if r := recover(); r != nil { // some library paths panic without an engine
			err = fmt.Errorf("no Docker engine answers (%v)", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return Engine{}, noEngine(err)
	}
	defer cli.Close()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Engine{}, noEngine(err)
	}
	return Engine{Version: info.Info.ServerVersion, Arch: goarch(info.Info.Architecture), Host: cli.DaemonHost()}, nil
}

func noEngine(err error) error {
	if strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("the Docker engine's socket refuses this user (%v): add yourself to the docker group "+
			"(then log in again), or use --runtime local", err)
	}
	return fmt.Errorf("no Docker engine answers (%v); start Docker, or set DOCKER_HOST for Colima, Rancher Desktop or Podman, or use --runtime local", err)
}

// goarch maps the engine's machine name to Go's.
func goarch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return machine
}

// StartDocker builds each service on this machine for the engine's platform,
// packs it into an image with the stage's recipe (FROM scratch: nothing is
// pulled, this works offline), and starts the services on a private network where they find each other by
// name. On any failure everything created so far is removed.
func StartDocker(ctx context.Context, o DockerOptions) (_ *DockerSystem, err error) {
	services, err := stage.Layout(o.Stage)
	if err != nil {
		return nil, err
	}
	eng, err := DetectEngine(ctx)
	if err != nil {
		return nil, err
	}
	sys := &DockerSystem{services: services, urls: map[string]string{},
		containers: map[string]*testcontainers.DockerContainer{}, stopTimeout: o.StopTimeout}
	if sys.stopTimeout <= 0 {
		sys.stopTimeout = stage.DefaultStopTimeout
	}
	defer func() {
		if err != nil {
			_ = sys.Stop(context.Background())
		}
	}()

	target := stage.Target{GOOS: "linux", GOARCH: eng.Arch}
	buildDir := stage.BinDir(o.Dir, target)
	if os.MkdirAll(buildDir, 0o755) != nil { // a checkout that cannot be written
		if buildDir, err = sys.tempDir(); err != nil {
			return nil, err
		}
	}
	bins, err := stage.Build(ctx, o.Dir, services, target, buildDir)
	if err != nil {
		return nil, err
	}
	relayBin, err := sys.buildRelay(ctx, target)
	if err != nil {
		return nil, err
	}

	labels := map[string]string{Label: strconv.Itoa(os.Getpid())}
	env := stage.PeerEnv(services, func(s stage.Service) string { return "http://" + s.Name + ":" + strconv.Itoa(s.Port) })
	env = append(env, o.Env...)
	routes := make([]string, 0, len(services)+1)
	for _, s := range services {
		routes = append(routes, fmt.Sprintf("%d=%s:%d", s.Port, s.Name, s.Port))
	}
	if o.OTLPPort != 0 {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+relayName+":"+strconv.Itoa(relayOTLPPort))
		routes = append(routes, fmt.Sprintf("%d=host.docker.internal:%d", relayOTLPPort, o.OTLPPort))
	}
	ready := o.Ready
	if ready == 0 {
		ready = 30 * time.Second
	}
	buildLog := o.BuildLog
	if buildLog == nil {
		buildLog = io.Discard
	}

	// The images are loaded (stage.ImageArchive) rather than built, from a
	// Dockerfile or by testcontainers: the engine's builder runs and commits
	// a container per step, seconds per image.
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, noEngine(err)
	}
	defer cli.Close()
	// Tags are unique per run: grade runs several checks of a stage at once.
	run := runCounter.Add(1)
	tag := func(name string) string {
		return fmt.Sprintf("workshop.local/%s:stage%d-%d-%d", name, o.Stage, os.Getpid(), run)
	}
	for _, s := range services {
		sys.images = append(sys.images, tag(s.Name))
	}
	relayImage := tag("relay")
	sys.images = append(sys.images, relayImage)

	// The services' network is internal (no route out) and the bridge has
	// no address of this machine on it (inhibit_ipv4: no route to this
	// machine either, whose listeners on every interface would otherwise be
	// in reach); the relay's outer network is an ordinary one.
	inner, err := sys.createNetwork(ctx, cli, labels, true)
	if err != nil {
		return nil, err
	}
	outer, err := sys.createNetwork(ctx, cli, labels, false)
	if err != nil {
		return nil, err
	}

	// Each service's image is built and its container started at once, the
	// engine doing them side by side (committing an image and starting a
	// container are its slow parts); a service waits only for those it
	// calls as it starts, and for the relay, its way to them and theirs out.
	started := map[string]chan struct{}{}
	for _, s := range services {
		started[s.Name] = make(chan struct{})
	}
	relayReady := make(chan struct{})
	startCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	relayLog := stage.NewLineWriter(func(line []byte) {
		if o.Output != nil {
			o.Output("relay", line)
		}
	})
	sys.writers = append(sys.writers, relayLog)
	wg.Go(func() {
		err := loadImage(startCtx, cli, relayBin, "relay", relayImage, eng.Arch, labels, buildLog)
		if err == nil {
			err = sys.runRelay(ctx, services, relayImage, labels, routes, inner, outer, relayLog, &mu)
		}
		if err != nil && startCtx.Err() != nil && ctx.Err() == nil {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		close(relayReady)
	})
	for i, s := range services {
		lw := stage.NewLineWriter(func(line []byte) {
			if o.Output != nil {
				o.Output(s.Name, line)
			}
		})
		sys.writers = append(sys.writers, lw)
		wg.Go(func() {
			err := loadImage(startCtx, cli, bins[s.Name], s.Name, sys.images[i], eng.Arch, labels, buildLog)
			if err == nil {
				// ctx, not startCtx: the container's log stream lives as
				// long as the context it was started with.
				err = sys.run(ctx, startCtx, s, sys.images[i], labels, env, inner, lw, ready, &mu,
					append(needs(started, s), relayReady))
			}
			if err != nil && startCtx.Err() != nil && ctx.Err() == nil {
				return // a sibling failed first: StartDocker reports that
			}
			if err != nil {
				fail(err)
				return
			}
			close(started[s.Name])
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return sys, nil
}

// tempDir makes a temporary folder that Stop removes.
func (d *DockerSystem) tempDir() (string, error) {
	dir, err := stage.TempDir("img")
	if err == nil {
		d.tmpDirs = append(d.tmpDirs, dir)
	}
	return dir, err
}

// buildRelay builds the relay (./relay, embedded in the CLI: never a
// learner's code) for the engine's platform, as a module of its own.
func (d *DockerSystem) buildRelay(ctx context.Context, target stage.Target) (string, error) {
	dir, err := d.tempDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "relay"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module relay\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "relay", "main.go"), relaySource, 0o644); err != nil {
		return "", err
	}
	bins, err := stage.Build(ctx, dir, []stage.Service{{Name: "relay"}}, target, filepath.Join(dir, "bin"))
	if err != nil {
		return "", fmt.Errorf("building the relay: %w", err)
	}
	return bins["relay"], nil
}

// createNetwork makes a labelled bridge network: internal, with no address
// of this machine on it, or ordinary.
func (d *DockerSystem) createNetwork(ctx context.Context, cli *testcontainers.DockerClient, labels map[string]string, internal bool) (string, error) {
	opts := client.NetworkCreateOptions{Driver: "bridge", Labels: labels, Internal: internal}
	kind := "the relay's network"
	if internal {
		opts.Options = map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"}
		kind = "the services' internal network"
	}
	name := fmt.Sprintf("workshop-%d-%d-%d", os.Getpid(), runCounter.Add(1), len(d.networks))
	res, err := cli.NetworkCreate(ctx, name, opts)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", kind, err)
	}
	d.networks = append(d.networks, res.ID)
	return name, nil
}

// runRelay starts the relay on the outer network, where it publishes the
// services' ports on this machine's loopback and reaches the CLI's
// receiver, and on the internal one, where the services reach it.
func (d *DockerSystem) runRelay(ctx context.Context, services []stage.Service, image string, labels map[string]string,
	routes []string, inner, outer string, lw *stage.LineWriter, mu *sync.Mutex) error {
	var ports []string
	for _, s := range services {
		ports = append(ports, strconv.Itoa(s.Port)+"/tcp")
	}
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithLabels(labels),
		testcontainers.WithCmd(routes...),
		testcontainers.WithExposedPorts(ports...),
		network.WithNetworkName(nil, outer),
		network.WithNetworkName([]string{relayName}, inner),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ExtraHosts = append(hc.ExtraHosts, "host.docker.internal:host-gateway")
			harden(hc)
			publishOnLoopback(hc, ports)
		}),
		testcontainers.WithLogConsumerConfig(&testcontainers.LogConsumerConfig{
			Consumers: []testcontainers.LogConsumer{consumer{lw}},
		}),
		testcontainers.WithWaitStrategy(wait.ForLog("relay: ").WithStartupTimeout(20*time.Second)),
	)
	if c != nil {
		mu.Lock()
		d.containers[relayName] = c
		mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("the relay did not start: %w", err)
	}
	for _, s := range services {
		url, err := c.PortEndpoint(ctx, strconv.Itoa(s.Port)+"/tcp", "http")
		if err != nil {
			return err
		}
		mu.Lock()
		d.urls[s.Name] = url
		mu.Unlock()
	}
	return nil
}

// needs are the channels closed when the services s calls as it starts are
// up.
func needs(started map[string]chan struct{}, s stage.Service) []chan struct{} {
	var out []chan struct{}
	for _, n := range s.Needs {
		out = append(out, started[n])
	}
	return out
}

// waitFor waits until each channel is closed, or ctx ends.
func waitFor(ctx context.Context, ready ...chan struct{}) error {
	for _, r := range ready {
		select {
		case <-r:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// run creates the container of one service on the internal network,
// starts it once the services it needs at startup and the relay are up
// (abort ends that wait), and waits until it answers /healthz through the
// relay.
func (d *DockerSystem) run(ctx, abort context.Context, s stage.Service, image string, labels map[string]string,
	env []string, inner string, lw *stage.LineWriter, ready time.Duration, mu *sync.Mutex, needs []chan struct{}) error {
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithNoStart(), // created now, started below
		testcontainers.WithLabels(labels),
		testcontainers.WithEnv(envMap(env)),
		network.WithNetworkName([]string{s.Name}, inner),
		testcontainers.WithHostConfigModifier(harden),
		testcontainers.WithLogConsumerConfig(&testcontainers.LogConsumerConfig{
			Consumers: []testcontainers.LogConsumer{consumer{lw}},
		}),
	)
	if c != nil {
		mu.Lock()
		d.containers[s.Name] = c
		mu.Unlock()
	}
	if err == nil {
		err = waitFor(abort, needs...)
	}
	if err == nil {
		err = c.Start(ctx)
	}
	if err == nil {
		mu.Lock()
		url := d.urls[s.Name]
		mu.Unlock()
		err = waitHealthy(abort, c, url, ready)
	}
	if err != nil {
		return fmt.Errorf("%s did not start: %w", s.Name, err)
	}
	return nil
}

// waitHealthy waits until the service answers /healthz through the relay
// (stage.WaitHealthy), or its container stops.
func waitHealthy(ctx context.Context, c *testcontainers.DockerContainer, base string, limit time.Duration) error {
	err := stage.WaitHealthy(ctx, base, limit, func() error {
		if st, err := c.State(ctx); err == nil && !st.Running {
			return fmt.Errorf("the container exited (status %d)", st.ExitCode)
		}
		return nil
	})
	if errors.Is(err, stage.ErrNoHealthy) {
		return fmt.Errorf("no answer to GET /healthz within %s", limit)
	}
	return err
}

// consumer hands a container's output to a line writer.
type consumer struct{ w *stage.LineWriter }

func (c consumer) Accept(l testcontainers.Log) { _, _ = c.w.Write(l.Content) }

// loadImage makes the image of one service with the stage's recipe,
// labelled, by loading it into the engine, and reports the engine's error if
// there is one.
func loadImage(ctx context.Context, cli *testcontainers.DockerClient, binary, name, tag, arch string, labels map[string]string, log io.Writer) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(stage.ImageArchive(pw, binary, arch, tag, labels)) }()
	defer pr.Close() // the writer stops if the engine stopped reading
	resp, err := cli.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("loading the image of %s: %w", name, err)
	}
	defer resp.Close()
	dec := json.NewDecoder(resp)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("loading the image of %s: %w", name, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("loading the image of %s: %s", name, msg.Error)
		}
		_, _ = io.WriteString(log, msg.Stream)
	}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// URL is the base URL of a service, as published on this machine.
func (d *DockerSystem) URL(service string) string { return d.urls[service] }

// Services lists the running services.
func (d *DockerSystem) Services() []stage.Service { return d.services }

// Stop terminates the containers (SIGTERM first: they drain and flush), all
// at once, removes their images and the network, and the temporary binaries.
func (d *DockerSystem) Stop(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for _, c := range d.containers {
		wg.Go(func() {
			fail(testcontainers.TerminateContainer(c, testcontainers.StopContext(ctx), testcontainers.StopTimeout(d.stopTimeout)))
		})
	}
	wg.Wait()
	d.containers = nil
	if len(d.images) > 0 {
		if cli, err := testcontainers.NewDockerClientWithOpts(ctx); err == nil {
			for _, img := range d.images {
				wg.Go(func() {
					_, err := cli.ImageRemove(ctx, img, client.ImageRemoveOptions{Force: true, PruneChildren: true})
					fail(err)
				})
			}
			wg.Wait()
			cli.Close()
		} else {
			fail(err)
		}
		d.images = nil
	}
	for _, w := range d.writers {
		w.Flush()
	}
	if len(d.networks) > 0 {
		if cli, err := testcontainers.NewDockerClientWithOpts(ctx); err == nil {
			for _, id := range d.networks {
				_, err := cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
				fail(err)
			}
			cli.Close()
		} else {
			fail(err)
		}
		d.networks = nil
	}
	for _, dir := range d.tmpDirs {
		fail(os.RemoveAll(dir))
	}
	d.tmpDirs = nil
	return errors.Join(errs...)
}

// StopService stops one service's container (SIGTERM: it drains and
// flushes; killed after the stop timeout); Stop removes it later.
func (d *DockerSystem) StopService(ctx context.Context, service string) error {
	c, ok := d.containers[service]
	if !ok {
		return fmt.Errorf("no service %s is running", service)
	}
	return c.Stop(ctx, &d.stopTimeout)
}
