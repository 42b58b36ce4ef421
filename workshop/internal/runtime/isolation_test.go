package runtime

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/files"
)

// secretsStage is stage 1 with the secret-reading fixture
// (stage/testdata/hostile/secrets.go) in its dice-roller, aimed at a file
// of another learner's checkout and at an address of this machine.
func secretsStage(t *testing.T, other, hostAddr string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stage1")
	require.NoError(t, files.CopyModule(stageDir(t, 1), dir, false))
	src, err := os.ReadFile(filepath.Join("..", "..", "stage", "testdata", "hostile", "secrets.go"))
	require.NoError(t, err)
	src = []byte(strings.NewReplacer("OTHER_CHECKOUT_FILE", other, "HOST_LISTENER_ADDR", hostAddr).Replace(string(src)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dice-roller", "zz_hostile.go"), src, 0o644))
	return dir
}

// hostAddress is a non-loopback IPv4 address of this machine, outside the
// Docker engine's networks (where a learner's service could otherwise
// reach the instructor's listeners).
func hostAddress(t *testing.T) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 ||
			strings.HasPrefix(ifc.Name, "docker") || strings.HasPrefix(ifc.Name, "br-") || strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil {
				return ip.IP.String()
			}
		}
	}
	t.Skip("no non-loopback address on this machine")
	return ""
}

// TestContainersAreLockedDown runs a service that tries to read the
// instructor's secrets, another learner's checkout and /etc/shadow, to
// write its root filesystem, and to reach a listener of this machine: every
// attempt fails, while its OTLP reaches the CLI's receiver and its port
// answers on this machine's loopback only. Before the hardening, the
// listener on this machine was reached, and nothing was dropped or
// limited.
func TestContainersAreLockedDown(t *testing.T) {
	requireEngine(t)
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}
	t.Setenv("INSTRUCTOR_API_TOKEN", "s3cret-token")
	other := filepath.Join(t.TempDir(), "bob", "exercises", "stage1", "answer.go")
	require.NoError(t, os.MkdirAll(filepath.Dir(other), 0o755))
	require.NoError(t, os.WriteFile(other, []byte("package bob // bob's work"), 0o644))

	// A listener of this machine on every interface (as the instructor's
	// own tools may be), tried through a non-loopback address.
	var reached atomic.Int32
	outside, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer outside.Close()
	go func() {
		for {
			c, err := outside.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	hostAddr := net.JoinHostPort(hostAddress(t), strconv.Itoa(outside.Addr().(*net.TCPAddr).Port))

	// A stand-in for the CLI's receiver, on every interface like the
	// outside listener: only the relay's forwarding may reach it.
	exports, port := standInReceiver(t, "0.0.0.0")

	var mu sync.Mutex
	probes := map[string]string{}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	sys, err := StartDocker(ctx, DockerOptions{
		Dir: secretsStage(t, other, hostAddr), Stage: 1,
		Env:      []string{"ROLL_MAX_DELAY=0", "OTEL_BSP_SCHEDULE_DELAY=100"},
		OTLPPort: port,
		Output: func(_ string, line []byte) {
			if name, result, ok := strings.Cut(strings.TrimPrefix(string(line), "probe "), ": "); ok && strings.HasPrefix(string(line), "probe ") {
				mu.Lock()
				probes[name] = result
				mu.Unlock()
			}
		},
	})
	if sys != nil {
		defer func() { _ = sys.Stop(context.Background()) }()
	}
	require.NoError(t, err)

	resp, err := http.Get(sys.URL("dice-roller") + "/roll?die=fair")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return exports.Load() > 0 }, 30*time.Second, 100*time.Millisecond,
		"the service's OTLP reaches the CLI's receiver through the relay")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(probes) == 7 }, 20*time.Second, 50*time.Millisecond)

	mu.Lock()
	t.Logf("docker runtime, what the service could do: %v", probes)
	for _, name := range []string{"token", "shadow", "passwd", "other-read", "other-write", "host-listener", "root-write"} {
		assert.True(t, strings.HasPrefix(probes[name], "denied"), "probe %s: %s", name, probes[name])
	}
	mu.Unlock()
	assert.Zero(t, reached.Load(), "no connection reached this machine's listener")

	for name, c := range sys.containers {
		info, err := c.Inspect(ctx)
		require.NoError(t, err)
		hc := info.HostConfig
		assert.Equal(t, "65534:65534", info.Config.User, name)
		assert.Equal(t, []string{"ALL"}, hc.CapDrop, name)
		assert.Contains(t, hc.SecurityOpt, "no-new-privileges:true", name)
		assert.True(t, hc.ReadonlyRootfs, name)
		assert.Equal(t, int64(memoryLimit), hc.Memory, name)
		require.NotNil(t, hc.PidsLimit, name)
		assert.Equal(t, int64(pidsLimit), *hc.PidsLimit, name)
		assert.Equal(t, int64(cpuLimit), hc.NanoCPUs, name)
		for port, bindings := range info.NetworkSettings.Ports {
			for _, b := range bindings {
				assert.Equal(t, "127.0.0.1", b.HostIP.String(), "%s publishes %s on loopback only", name, port)
			}
		}
		if name != relayName {
			assert.Empty(t, info.NetworkSettings.Ports, "%s publishes nothing: the relay does", name)
			assert.Len(t, info.NetworkSettings.Networks, 1, "%s is on the internal network only", name)
		}
	}

	require.NoError(t, sys.Stop(ctx))
	left, err := Sweep(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, Leftovers{}, left)
}
