package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/moby/moby/api/types/network"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func stageDir(t *testing.T, n int) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return repo.StageDir(root, n)
}

// requireEngine skips without a Docker engine, except in CI where a missing
// engine must fail (a skip would hide a broken docker path).
func requireEngine(t *testing.T) Engine {
	t.Helper()
	eng, err := DetectEngine(t.Context())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %v", err)
		}
		t.Skipf("skipping the docker runtime test: %v", err)
	}
	return eng
}

// TestStartDockerRunsStageAndCleansUp runs the real stage 4 as containers
// built FROM scratch, reaches it through published ports, receives its OTLP
// on this machine, and leaves no container, network or image behind.
func TestStartDockerRunsStageAndCleansUp(t *testing.T) {
	requireEngine(t)
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}

	// A stand-in OTLP receiver where the CLI's listens, on the bridge's
	// gateway and not every interface: the containers still reach it through
	// host.docker.internal.
	host, err := ReceiverHost(t.Context())
	require.NoError(t, err)
	exports, port := standInReceiver(t, host)

	var mu sync.Mutex
	var lines []string
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	sys, err := StartDocker(ctx, DockerOptions{
		Dir: stageDir(t, 4), Stage: 4,
		Env:      []string{"ROLL_MAX_DELAY=0"},
		OTLPPort: port,
		Output: func(service string, line []byte) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, service+": "+string(line))
		},
	})
	if sys != nil {
		defer func() { _ = sys.Stop(context.Background()) }()
	}
	require.NoError(t, err)

	resp, err := http.Get(sys.URL("frontend") + "/roll-async?die=fair&times=4")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var batch struct{ Count int }
	require.NoError(t, json.Unmarshal(body, &batch))
	assert.Equal(t, 4, batch.Count, "the frontend reached the dice-roller and the die-service by their names")

	require.Eventually(t, func() bool { return exports.Load() > 0 }, 20*time.Second, 100*time.Millisecond,
		"the containers export their spans to the CLI's machine")
	for name, c := range sys.containers {
		info, err := c.Inspect(ctx)
		require.NoError(t, err)
		assert.Equal(t, "65534:65534", info.Config.User, "%s runs unprivileged (the stage image recipe)", name)
	}

	require.NoError(t, sys.Stop(ctx))
	mu.Lock()
	logs := strings.Join(lines, "\n")
	mu.Unlock()
	assert.Contains(t, logs, `die-service: {"timestamp"`, "container stdout is captured line by line")
	assert.Contains(t, logs, `dice-roller stopped`, "containers get SIGTERM and shut down cleanly")

	left, err := Sweep(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, Leftovers{}, left, "Stop removed every container, network and image")
}

func TestStartDockerReportsBuildErrorsWithoutTouchingTheEngine(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/go.mod", []byte("module broken\n\ngo 1.26.0\n"), 0o644))
	require.NoError(t, os.MkdirAll(dir+"/dice-roller", 0o755))
	require.NoError(t, os.WriteFile(dir+"/dice-roller/main.go", []byte("package main\n\nfunc main() { nope() }\n"), 0o644))
	_, err := StartDocker(t.Context(), DockerOptions{Dir: dir, Stage: 1})
	var be *stage.BuildError
	require.ErrorAs(t, err, &be)
	assert.Contains(t, be.Output, "undefined: nope")
	left, err := Sweep(t.Context(), true)
	require.NoError(t, err)
	assert.Equal(t, Leftovers{}, left)
}

func TestStartDockerCleansUpAContainerThatCrashes(t *testing.T) {
	requireEngine(t)
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}
	_, err := StartDocker(t.Context(), DockerOptions{
		Dir: stageDir(t, 1), Stage: 1, Env: []string{"ROLL_MAX_DELAY=bogus"}, Ready: 20 * time.Second,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dice-roller did not start")
	left, err := Sweep(t.Context(), true)
	require.NoError(t, err)
	assert.Equal(t, Leftovers{}, left, "a failed start removes what it created")
}

func TestReceiverHostIsTheBridgeGatewayWhenLocal(t *testing.T) {
	gw := netip.MustParseAddr("172.17.0.1")
	config := []network.IPAMConfig{
		{Subnet: netip.MustParsePrefix("fd00::/64")},                                               // IPv6: not ours to bind
		{Subnet: netip.MustParsePrefix("172.17.0.0/16")},                                           // no gateway: the first address
		{Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.254")}, // a gateway given
	}
	assert.Equal(t, []netip.Addr{gw, netip.MustParseAddr("10.9.0.254")}, bridgeGateways(config))

	local := []net.Addr{
		&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
		&net.IPNet{IP: net.ParseIP("172.17.0.1"), Mask: net.CIDRMask(16, 32)},
	}
	assert.Equal(t, "172.17.0.1", receiverHost(bridgeGateways(config), local), "Docker Engine on this machine")
	assert.Equal(t, "127.0.0.1", receiverHost(bridgeGateways(config), local[:1]),
		"the gateway is elsewhere (Docker Desktop's VM): loopback, never every interface")
}

// standInReceiver is an OTLP/HTTP receiver on host that counts the trace
// exports it gets, where the CLI's own would listen; it stops with the test.
func standInReceiver(t *testing.T, host string) (exports *atomic.Int32, port int) {
	t.Helper()
	exports = &atomic.Int32{}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return exports, ln.Addr().(*net.TCPAddr).Port
}
