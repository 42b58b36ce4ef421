package stage

import (
	"os"
	"strconv"
	"syscall"
)

// ProcessAlive reports whether the pid (as written in a label or an
// environment variable) is a running process.
func ProcessAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	p, err := os.FindProcess(n)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
