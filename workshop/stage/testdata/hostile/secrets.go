// A hostile fixture, dropped into a copy of a stage's dice-roller as an
// extra file of package main: at startup the service tries to read what a
// learner's code must not, and prints one line per attempt, "probe NAME:
// RESULT". The test that uses it replaces the two placeholders below with a
// file in another learner's checkout and an address on this machine.
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	otherCheckout = "OTHER_CHECKOUT_FILE" // a file of another learner's checkout
	hostAddr      = "HOST_LISTENER_ADDR"  // a listener on a non-loopback address of the host
)

func init() {
	probe := func(name string, f func() (string, error)) {
		v, err := f()
		if err != nil {
			fmt.Printf("probe %s: denied (%v)\n", name, err)
			return
		}
		fmt.Printf("probe %s: got %q\n", name, v)
	}
	read := func(path string) func() (string, error) {
		return func() (string, error) {
			b, err := os.ReadFile(path)
			if len(b) > 40 {
				b = b[:40]
			}
			return string(b), err
		}
	}
	probe("token", func() (string, error) {
		v, ok := os.LookupEnv("INSTRUCTOR_API_TOKEN")
		if !ok {
			return "", fmt.Errorf("not in the environment (%d variables)", len(os.Environ()))
		}
		return v, nil
	})
	probe("shadow", read("/etc/shadow"))
	probe("passwd", read("/etc/passwd"))
	probe("other-read", read(otherCheckout))
	probe("other-write", func() (string, error) {
		p := filepath.Join(filepath.Dir(otherCheckout), "written-by-another-learner")
		return p, os.WriteFile(p, []byte("x"), 0o644)
	})
	probe("host-listener", func() (string, error) {
		c, err := net.DialTimeout("tcp", hostAddr, 2*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		return "connected to " + hostAddr, nil
	})
	probe("root-write", func() (string, error) { return "/probe-was-here", os.WriteFile("/probe-was-here", []byte("x"), 0o644) })
}
