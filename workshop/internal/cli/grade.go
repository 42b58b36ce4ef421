package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/grade"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// gradeIsolation is what `grade --help` says about running learners' code.
const gradeIsolation = `
Grading runs each learner's code: treat it as untrusted.
  --runtime docker (the default) runs each service in a container as an
    unprivileged user (65534) with every capability dropped, no new
    privileges, a read-only root filesystem, limits on memory (256 MB),
    processes (128) and CPU (1), ports published on 127.0.0.1 only, on a
    network with no route out: only the CLI's OTLP receiver is reachable,
    through a relay. It sees none of your files and none of your
    environment. Not isolated: the containers share this machine's kernel,
    and the OTLP receiver and the published ports are this CLI's.
  --runtime local runs each service as you: it can read and write whatever
    you can (your files, other learners' checkouts). Its environment is
    reduced to PATH, a temporary HOME and the variables the stage needs, so
    your tokens and keys in the environment are not passed on. Use it only
    for code you trust. Without a Docker engine grade refuses to run rather
    than fall back to local.
`

// detectEngine is runtime.DetectEngine; a test stands in for an engine
// that is gone (the library finds the default socket even when DOCKER_HOST
// names another).
var detectEngine = runtime.DetectEngine

func runGrade(env *Env, args []string) error {
	fs := newFlags(env, "grade", "DIR... [--stage N] [--parallel 2] [--runtime docker|local] [--timeout 5m] [--csv|--json]")
	usage := fs.Usage
	fs.Usage = func() { usage(); fmt.Fprint(env.Stderr, gradeIsolation) }
	stageFlag := fs.String("stage", "", "grade only this stage (default: every stage the learner has)")
	parallel := fs.Int("parallel", 2, "how many checks run at once")
	rt := fs.String("runtime", "docker", "docker (isolated) or local (runs learners' code as you; see below)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long one learner's check of one stage may take before it is marked unfinished")
	asCSV := fs.Bool("csv", false, "print CSV")
	asJSON := fs.Bool("json", false, "print JSON")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("grade needs at least one learner checkout: workshop grade ~/class/*/")
	}
	for i, d := range dirs { // as typed, from where the command runs
		if !filepath.IsAbs(d) {
			dirs[i] = filepath.Join(env.Dir, d)
		}
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	if *asCSV && *asJSON {
		return usagef("choose one of --csv and --json")
	}
	switch *rt {
	case "docker", "local":
	case "auto":
		return usagef("grade does not choose its runtime: learners' code runs isolated with --runtime docker " +
			"(the default), or as you with --runtime local (see --help)")
	default:
		return usagef("unknown runtime %q; valid: docker, local", *rt)
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
	if *rt == "docker" {
		if _, err := detectEngine(ctx); err != nil {
			return fmt.Errorf("grade runs each learner's code in containers, and %v.\n"+
				"It does not fall back to running that code as you: to do so knowingly, use --runtime local (see --help)", err)
		}
	} else {
		fmt.Fprintln(env.Stderr, "warning: --runtime local runs each learner's code as you, with your rights on this machine: "+
			"it can read and change your files and other learners' checkouts. Only its environment is reduced "+
			"(PATH, a temporary HOME, the stage's variables). Grade code you do not trust with --runtime docker.")
	}
	sweep(ctx, env, *rt)
	defer stage.KillStrays() // what slipped out of a stopped service unseen
	rows := grade.Gather(ctx, dirs, grade.Options{Stages: stages, Parallel: *parallel, Runtime: *rt, Timeout: *timeout})

	var werr error
	switch {
	case *asJSON:
		werr = grade.WriteJSON(env.Stdout, rows)
	case *asCSV:
		werr = grade.WriteCSV(env.Stdout, rows, stages)
	default:
		grade.WriteTable(env.Stdout, rows, stages)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(env.Stderr, "interrupted: every stage was stopped; the learners marked unfinished were not graded")
		return errSilentFailure
	}
	return werr
}
