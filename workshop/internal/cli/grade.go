package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-o11y-workshop/kit/workshop/internal/grade"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func runGrade(env *Env, args []string) error {
	fs := newFlags(env, "grade", "DIR... [--stage N] [--parallel 2] [--runtime auto] [--csv|--json]")
	stageFlag := fs.String("stage", "", "grade only this stage (default: every stage the learner has)")
	parallel := fs.Int("parallel", 2, "how many checks run at once")
	rt := fs.String("runtime", "auto", "docker, local or auto")
	asCSV := fs.Bool("csv", false, "print CSV")
	asJSON := fs.Bool("json", false, "print JSON")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("grade needs at least one learner checkout: workshop grade ~/class/*/")
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	if *asCSV && *asJSON {
		return usagef("choose one of --csv and --json")
	}
	var stages []int
	for n := 1; n <= repo.Stages; n++ {
		stages = append(stages, n)
	}
	if *stageFlag != "" {
		n, err := repo.ParseStage(*stageFlag)
		if err != nil {
			return usageError{err.Error()}
		}
		stages = []int{n}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	sweepLocal(env)
	rows := grade.Gather(ctx, dirs, grade.Options{Stages: stages, Parallel: *parallel, Runtime: *rt})
	if ctx.Err() != nil {
		fmt.Fprintln(env.Stderr, "interrupted: every stage was stopped")
		return errSilentFailure
	}

	switch {
	case *asJSON:
		return grade.WriteJSON(env.Stdout, rows)
	case *asCSV:
		return grade.WriteCSV(env.Stdout, rows, stages)
	}
	grade.WriteTable(env.Stdout, rows, stages)
	return nil
}
