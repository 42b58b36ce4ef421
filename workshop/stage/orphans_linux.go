package stage

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SweepLocal stops the services that a killed run left behind: processes
// whose environment carries OwnerEnv naming a CLI process that is gone
// (a SIGKILL or a crash gave it no chance to stop them; they live in process
// groups of their own, so nothing else reaches them). It never touches the
// services of a run that is still alive, and it reports how many it stopped.
func SweepLocal() (int, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/environ")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	var stale []int
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(p) // another user's process: not readable, not ours
		if err != nil {
			continue
		}
		owner := ownerOf(env)
		if owner != "" && !ProcessAlive(owner) {
			stale = append(stale, pid)
		}
	}
	for _, pid := range stale {
		_ = syscall.Kill(-pid, syscall.SIGTERM) // each service leads its process group
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	// The services drain and flush within their own bounds; past those, kill.
	deadline := time.Now().Add(DefaultStopTimeout)
	for _, pid := range stale {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return len(stale), nil
}

// ownerOf is the value of OwnerEnv in a NUL-separated environment.
func ownerOf(environ []byte) string {
	prefix := []byte(OwnerEnv + "=")
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v)
		}
	}
	return ""
}
