package stage

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSweepLocalStopsOnlyTheServicesOfADeadRun starts two stand-ins for
// services: one owned by a CLI that is gone, one by this live process.
func TestSweepLocalStopsOnlyTheServicesOfADeadRun(t *testing.T) {
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	deadOwner := strconv.Itoa(gone.Process.Pid)

	start := func(owner string) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command("sleep", "60")
		cmd.Env = append(os.Environ(), OwnerEnv+"="+owner)
		setProcessGroup(cmd)
		require.NoError(t, cmd.Start())
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() { kill(cmd); <-done })
		return cmd, done
	}
	_, orphanDone := start(deadOwner)
	live, liveDone := start(strconv.Itoa(os.Getpid()))

	n, err := SweepLocal()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 1)
	select {
	case <-orphanDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the dead run's service is still running")
	}
	select {
	case <-liveDone:
		t.Fatal("the live run's service was stopped")
	default:
	}
	assert.NoError(t, live.Process.Signal(syscall.Signal(0)))
}

func TestOwnerOf(t *testing.T) {
	assert.Equal(t, "42", ownerOf([]byte("A=1\x00"+OwnerEnv+"=42\x00B=2\x00")))
	assert.Equal(t, "", ownerOf([]byte("A=1\x00WORKSHOP_RUNNER=7\x00")))
	assert.Equal(t, "", ownerOf(nil))
}
