package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-o11y-workshop/kit/workshop/internal/bench"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func runBench(env *Env, args []string) error {
	fs := newFlags(env, "bench", "N [--json] [--repeat 5]")
	asJSON := fs.Bool("json", false, "print the measurements as JSON")
	repeat := fs.Int("repeat", 5, "rounds of the sync/async comparison (the median is reported)")
	requests := fs.Int("requests", 2000, "requests on each side of the instrumentation overhead comparison")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("bench needs one stage: workshop bench 4")
	}
	if *repeat < 1 {
		return usagef("--repeat %d: want at least 1", *repeat)
	}
	if *requests < 10 {
		return usagef("--requests %d: want at least 10", *requests)
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	sweepLocal(env)
	defer stage.KillStrays() // what slipped out of a stopped service unseen
	fmt.Fprintf(env.Stderr, "benchmarking the reference stage %d (stages/stage%d) as local processes on free ports\n", n, n)
	rep, err := bench.Run(ctx, bench.Options{Dir: repo.StageDir(root, n), Stage: n, Repeat: *repeat, Requests: *requests, Progress: env.Stderr})
	if err != nil {
		return interrupted(env, ctx, err)
	}
	if *asJSON {
		return bench.WriteJSON(env.Stdout, rep)
	}
	bench.WriteTable(env.Stdout, rep)
	return nil
}
