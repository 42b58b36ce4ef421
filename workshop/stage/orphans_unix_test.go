//go:build !windows

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

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	return gone.Process.Pid
}

// TestSweepLocalStopsOnlyTheServicesOfADeadRun starts two stand-ins for
// services: one owned by a CLI that is gone, one by this live process.
func TestSweepLocalStopsOnlyTheServicesOfADeadRun(t *testing.T) {
	deadOwner := strconv.Itoa(deadPID(t))

	start := func(owner string) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command("sleep", "60")
		cmd.Env = append(os.Environ(), OwnerEnv+"="+owner+"/1/test")
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

// TestKillStraysEndsWhatSlippedAway: a process marked as started by one of
// this process's services, in a session of its own and holding no pipe
// of it, is ended by KillStrays.
func TestKillStraysEndsWhatSlippedAway(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.Env = append(os.Environ(), OwnerEnv+"="+strconv.Itoa(os.Getpid())+"/99/test")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	assert.GreaterOrEqual(t, KillStrays(), 1)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the stray is still running")
	}
}

func TestParsePS(t *testing.T) {
	out := []byte("    1 /sbin/init A=1\n" +
		"   42 /tmp/bin/dice-roller PORT=1 " + OwnerEnv + "=7/1/dice-roller HOME=/x\n" +
		"   43 sleep " + OwnerEnv + "=fake " + OwnerEnv + "=7/1/frontend\n" +
		"   44 self " + OwnerEnv + "=7/1/x\n" +
		"   45 " + OwnerEnv + "R=9 WORKSHOP_RUNNER=7\n" +
		"junk\n")
	assert.Equal(t, []marked{{42, "7/1/dice-roller"}, {43, "7/1/frontend"}}, parsePS(out, 44))
	assert.Equal(t, "7", ownerPID("7/1/frontend"))
}
