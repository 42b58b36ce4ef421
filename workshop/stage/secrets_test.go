//go:build !windows

package stage

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretsStage is stage 1 with testdata/hostile/secrets.go, aimed at a
// file of another learner's checkout and at an address on this machine.
func secretsStage(t *testing.T, other, hostAddr string) string {
	t.Helper()
	dir := hostileStage(t, 1, "secrets.go")
	f := filepath.Join(dir, "dice-roller", "zz_hostile.go")
	src, err := os.ReadFile(f)
	require.NoError(t, err)
	src = []byte(strings.NewReplacer("OTHER_CHECKOUT_FILE", other, "HOST_LISTENER_ADDR", hostAddr).Replace(string(src)))
	require.NoError(t, os.WriteFile(f, src, 0o644))
	return dir
}

// probes collects the "probe NAME: RESULT" lines of the secrets fixture.
type probes struct {
	mu  sync.Mutex
	got map[string]string
}

func (p *probes) line(_ string, line []byte) {
	name, result, ok := strings.Cut(strings.TrimPrefix(string(line), "probe "), ": ")
	if !ok || !strings.HasPrefix(string(line), "probe ") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[string]string{}
	}
	p.got[name] = result
}

func (p *probes) get(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[name]
}

// TestLocalServicesGetAMinimalEnvironment: the CLI's environment holds an
// instructor's token; a service run locally (as check and grade run it)
// does not see it, nor any other inherited variable. Before the fix it
// read the token from the 40-odd variables it inherited.
func TestLocalServicesGetAMinimalEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	t.Setenv("INSTRUCTOR_API_TOKEN", "s3cret-token")
	other := filepath.Join(t.TempDir(), "bob", "exercises", "stage1", "answer.go")
	require.NoError(t, os.MkdirAll(filepath.Dir(other), 0o755))
	require.NoError(t, os.WriteFile(other, []byte("package bob // bob's work"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	t.Cleanup(func() { _ = os.Remove("/probe-was-here") }) // written when the tests run as root
	var p probes
	sys, err := StartLocal(t.Context(), LocalOptions{
		Dir: secretsStage(t, other, ln.Addr().String()), Stage: 1, FreePorts: true, BuildDir: t.TempDir(),
		Env: []string{"OTEL_SDK_DISABLED=true"}, Output: p.line,
	})
	require.NoError(t, err)
	home := ""
	for _, d := range sys.tmpDirs {
		if strings.Contains(filepath.Base(d), "-home-") {
			home = d
		}
	}
	require.DirExists(t, home, "the services' HOME is a folder of their own")
	require.NoError(t, sys.Stop(t.Context()))
	assert.NoDirExists(t, home, "removed at Stop")

	assert.Equal(t, "denied (not in the environment (7 variables))", p.get("token"),
		"PATH, HOME, TMPDIR, the peers, PORT, the marker and Env only")
	// Not isolated (README says so): the local runtime runs as this user.
	t.Logf("local runtime, what the service could do: %v", p.got)
}

// TestSweepTempRemovesOnlyDeadRunsFolders: a temporary folder named after
// a process that is gone is removed; this process's is kept.
func TestSweepTempRemovesOnlyDeadRunsFolders(t *testing.T) {
	mine, err := TempDir("bin")
	require.NoError(t, err)
	defer os.RemoveAll(mine)
	dead := filepath.Join(os.TempDir(), "workshop-bin-"+strconv.Itoa(deadPID(t))+"-123")
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "x"), 0o755))
	defer os.RemoveAll(dead)
	other := filepath.Join(os.TempDir(), "workshop-catchup-1-2") // not a kind it sweeps
	require.NoError(t, os.MkdirAll(other, 0o755))
	defer os.RemoveAll(other)

	assert.GreaterOrEqual(t, SweepTemp(), 1)
	assert.NoDirExists(t, dead)
	assert.DirExists(t, mine)
	assert.DirExists(t, other)
}
