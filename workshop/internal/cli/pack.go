package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// runPack writes what compose builds a stage's images from (`make
// stageN-docker` runs it): the services and the probe built for the Docker
// engine's architecture, and the Dockerfile (stage's one image recipe, which
// the CLI's own containers load as an image archive).
func runPack(env *Env, args []string) error {
	fs := newFlags(env, "pack", "N [DIR] [--out DIR/bin] [--arch GOARCH]")
	out := fs.String("out", "", "the folder to write (default: DIR/bin, where the stage's compose.yaml builds from)")
	arch := fs.String("arch", "", "GOARCH of the images (default: the Docker engine's)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("pack needs a stage and optionally its module: workshop pack 4, workshop pack 4 exercises/stage4")
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}
	dir := stage.Dir(root, n)
	if len(rest) == 2 {
		if dir = rest[1]; !filepath.IsAbs(dir) {
			dir = filepath.Join(env.Dir, dir)
		}
	}
	if *out == "" {
		*out = filepath.Join(dir, "bin")
	} else if !filepath.IsAbs(*out) {
		*out = filepath.Join(env.Dir, *out)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if *arch == "" {
		eng, err := runtime.DetectEngine(ctx)
		if err != nil {
			return err
		}
		*arch = eng.Arch
	}
	if err := stage.Pack(ctx, root, n, dir, *arch, *out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "stage %d: the services, the probe (linux/%s) and the Dockerfile are in %s\n", n, *arch, *out)
	return nil
}
