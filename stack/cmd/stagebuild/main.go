// Command stagebuild builds what a stage's Docker images hold:
//
//	go run ./stack/cmd/stagebuild -stage 4
//
// builds the stage's services and the healthcheck probe for the Docker
// engine's architecture (CGO_ENABLED=0, linux) into stages/stage4/bin/, where
// stages/stage4/Dockerfile copies them from. `make stage4-docker` runs it.
// With -dir exercises/stage4 it builds the learner's module into its bin/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-o11y-workshop/kit/stack/internal/stagebuild"
)

func main() {
	stage := flag.Int("stage", 0, "stage number (1-4)")
	dir := flag.String("dir", "", "the stage module to build (default stages/stageN)")
	out := flag.String("out", "", "output folder (default DIR/bin)")
	arch := flag.String("arch", "", "GOARCH of the images (default: the Docker engine's)")
	flag.Parse()
	if err := run(*stage, *dir, *out, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "stagebuild:", err)
		os.Exit(1)
	}
}

func run(stage int, dir, out, arch string) error {
	if stage < 1 {
		return fmt.Errorf("-stage N is required")
	}
	ctx := context.Background()
	root, err := stagebuild.Root(".")
	if err != nil {
		return err
	}
	if dir == "" {
		dir = stagebuild.StageDir(root, stage)
	}
	if out == "" {
		out = filepath.Join(dir, "bin")
	}
	if arch == "" {
		arch = stagebuild.EngineArch(ctx)
	}
	opts := stagebuild.Options{GOARCH: arch, Probe: true, ModuleDir: dir}
	if err := stagebuild.Build(ctx, root, stage, out, opts); err != nil {
		return err
	}
	fmt.Printf("stage %d: services and probe (linux/%s) in %s\n", stage, arch, out)
	return nil
}
