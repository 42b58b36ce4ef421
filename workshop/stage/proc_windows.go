//go:build windows

package stage

import "os/exec"

func setProcessGroup(*exec.Cmd) {}

// Windows has no SIGTERM for console processes: stopping is a kill.
func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func kill(cmd *exec.Cmd) { terminate(cmd) }

func groupAlive(*exec.Cmd) bool { return false }
