// Command prombuild builds the real Prometheus the stack's tests run
// (release 3.5.0, from the Go module proxy) into the user cache folder, once
// per machine:
//
//	go run ./stack/cmd/prombuild
//
// builds for this machine (promtool checks the config here) and for Linux on
// this machine's architecture, which is the Docker engine's here and on
// Docker Desktop (Prometheus runs in a container; a test that finds another
// engine architecture builds that one itself), and prints the folders. .ci/run starts it in the background so the build
// overlaps the other modules' tests; the stack's tests wait for it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-o11y-workshop/kit/stack/internal/prombuild"
)

func main() {
	hostOnly := flag.Bool("host-only", false, "build for this machine only, not for Linux containers")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	platforms := []prombuild.Platform{prombuild.Host()}
	if !*hostOnly {
		if engine := (prombuild.Platform{GOOS: "linux", GOARCH: platforms[0].GOARCH}); engine != platforms[0] {
			platforms = append(platforms, engine)
		}
	}
	for _, p := range platforms {
		b, err := prombuild.Ensure(ctx, p, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "prombuild:", err)
			os.Exit(1)
		}
		fmt.Println(b.Dir)
	}
}
