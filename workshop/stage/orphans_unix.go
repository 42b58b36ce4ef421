//go:build !windows

package stage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SweepLocal stops the services that a killed run left behind, and their
// children: processes whose environment carries OwnerEnv naming a CLI
// process that is gone (a SIGKILL or a crash gave it no chance to stop
// them; they live in process groups of their own, so nothing else reaches
// them). It never touches the processes of a run that is still alive, and
// it reports how many it stopped.
func SweepLocal() (int, error) {
	procs, err := markedProcesses()
	if err != nil {
		return 0, err
	}
	var stale []int
	for _, p := range procs {
		if !ProcessAlive(ownerPID(p.marker)) {
			stale = append(stale, p.pid)
		}
	}
	for _, pid := range stale {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	// The services drain and flush within their own bounds; past those, kill.
	deadline := time.Now().Add(DefaultStopTimeout)
	for _, pid := range stale {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if running(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return len(stale), nil
}

// KillStrays kills every process this CLI's services started that is still
// running (they carry its pid in OwnerEnv): run once everything is stopped,
// it ends the strays that slipped out of their service's group and session
// without holding its output. It returns how many it found.
func KillStrays() int {
	self := strconv.Itoa(os.Getpid())
	return killMarked(func(m string) bool { return ownerPID(m) == self })
}

// killMarked kills (SIGKILL) every process whose OwnerEnv value matches:
// the strays a stopped service left, whatever process group or session they
// moved to. It returns how many it found.
func killMarked(match func(marker string) bool) int {
	procs, err := markedProcesses()
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range procs {
		if match(p.marker) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

// running reports whether pid is a process that has not exited (a zombie
// waiting for its parent to collect it has).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && !strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

type marked struct {
	pid    int
	marker string // the value of OwnerEnv
}

// markedProcesses lists this user's processes that carry OwnerEnv in their
// environment, with ps (the same on Linux and macOS: BSD-style "e" appends
// each process's environment to its command line; no /proc is read here).
func markedProcesses() ([]marked, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ps", "axeww", "-o", "pid=", "-o", "command=").Output()
	if err != nil {
		return nil, fmt.Errorf("listing processes with ps: %w", err)
	}
	return parsePS(out, os.Getpid()), nil
}

// parsePS reads ps's "pid command-and-environment" lines, skipping self.
func parsePS(out []byte, self int) []marked {
	var procs []marked
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || pid == self {
			continue
		}
		if m := ownerOf(fields[1:]); m != "" {
			procs = append(procs, marked{pid: pid, marker: m})
		}
	}
	return procs
}

// ownerPID is the CLI's pid in an OwnerEnv value.
func ownerPID(marker string) string {
	pid, _, _ := strings.Cut(marker, "/")
	return pid
}

// ownerOf is the value of OwnerEnv among a process's words (the last one
// wins, as it would in its environment).
func ownerOf(words []string) string {
	v := ""
	for _, w := range words {
		if rest, ok := strings.CutPrefix(w, OwnerEnv+"="); ok {
			v = rest
		}
	}
	return v
}
