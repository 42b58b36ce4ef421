// Package runtime runs a stage as containers on a private Docker network:
// the services are built on this machine by package stage, packed with its
// one image recipe, and reached through published ports. Whatever happens,
// nothing is left behind (see Sweep for what a killed run left). Running a
// stage as local processes is package stage's job.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
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
	network     *testcontainers.DockerNetwork
	containers  map[string]*testcontainers.DockerContainer // by service
	images      []string
	urls        map[string]string
	writers     []*stage.LineWriter
	tmpDir      string
	stopTimeout time.Duration
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
		if sys.tmpDir, err = stage.TempDir("img"); err != nil {
			return nil, err
		}
		buildDir = sys.tmpDir
	}
	bins, err := stage.Build(ctx, o.Dir, services, target, buildDir)
	if err != nil {
		return nil, err
	}

	labels := map[string]string{Label: strconv.Itoa(os.Getpid())}
	env := stage.PeerEnv(services, func(s stage.Service) string { return "http://" + s.Name + ":" + strconv.Itoa(s.Port) })
	env = append(env, o.Env...)
	if o.OTLPPort != 0 {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://host.docker.internal:"+strconv.Itoa(o.OTLPPort))
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
	for _, s := range services {
		sys.images = append(sys.images, fmt.Sprintf("workshop.local/%s:stage%d-%d-%d", s.Name, o.Stage, os.Getpid(), run))
	}
	// Each service's image is built and its container started at once, the
	// engine doing them side by side (committing an image and starting a
	// container are its slow parts); a service waits only for those it
	// calls as it starts.
	started := map[string]chan struct{}{}
	for _, s := range services {
		started[s.Name] = make(chan struct{})
	}
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
	networkReady := make(chan struct{})
	wg.Go(func() {
		nw, err := network.New(startCtx, network.WithLabels(labels))
		if nw != nil {
			mu.Lock()
			sys.network = nw
			mu.Unlock()
		}
		if err != nil {
			fail(fmt.Errorf("creating the network: %w", err))
			return
		}
		close(networkReady)
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
				err = waitFor(startCtx, networkReady)
			}
			if err == nil {
				// ctx, not startCtx: the container's log stream lives as
				// long as the context it was started with.
				err = sys.run(ctx, startCtx, s, sys.images[i], labels, env, lw, ready, &mu, needs(started, s))
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

// run creates the container of one service on the network, starts it once
// the services it needs at startup are up (abort ends that wait), and waits
// until it answers /healthz.
func (d *DockerSystem) run(ctx, abort context.Context, s stage.Service, image string, labels map[string]string,
	env []string, lw *stage.LineWriter, ready time.Duration, mu *sync.Mutex, needs []chan struct{}) error {
	port := strconv.Itoa(s.Port) + "/tcp"
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithNoStart(), // created now, started below
		testcontainers.WithLabels(labels),
		testcontainers.WithEnv(envMap(env)),
		testcontainers.WithExposedPorts(port),
		network.WithNetwork([]string{s.Name}, d.network),
		// The containers send their OTLP to the CLI on this machine.
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ExtraHosts = append(hc.ExtraHosts, "host.docker.internal:host-gateway")
		}),
		testcontainers.WithLogConsumerConfig(&testcontainers.LogConsumerConfig{
			Consumers: []testcontainers.LogConsumer{consumer{lw}},
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort(port).WithStartupTimeout(ready)),
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
	if err != nil {
		return fmt.Errorf("%s did not start: %w", s.Name, err)
	}
	url, err := c.PortEndpoint(ctx, port, "http")
	mu.Lock()
	d.urls[s.Name] = url
	mu.Unlock()
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
	if d.network != nil {
		fail(d.network.Remove(ctx))
		d.network = nil
	}
	if d.tmpDir != "" {
		fail(os.RemoveAll(d.tmpDir))
	}
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
