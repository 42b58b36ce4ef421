// A hostile fixture, dropped into a copy of a stage's dice-roller as an
// extra file of package main: at startup the service starts a copy of
// itself that keeps the service's stdout and stderr open, ignores SIGTERM
// and lives 5 minutes, in a session of its own (out of the service's process
// group), as a daemonising child would.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func init() {
	if os.Getenv("STRAY_CHILD") != "" {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		fmt.Printf("stray child %d started\n", os.Getpid())
		time.Sleep(5 * time.Minute)
		os.Exit(0)
	}
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "STRAY_CHILD=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
}
