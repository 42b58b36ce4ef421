package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/state"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func runCheck(env *Env, args []string) error {
	fs := newFlags(env, "check", "N [DIR] [--runtime docker|local|auto] [--json] [--watch]")
	rt := fs.String("runtime", "auto", "how to run the stage: docker, local, or auto (docker when an engine answers)")
	asJSON := fs.Bool("json", false, fmt.Sprintf("print the result as JSON (schema %d, see README)", check.JSONSchema))
	watch := fs.Bool("watch", false, "check again on every save of a file of the stage, and say what changed (Ctrl-C to stop)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *watch && *asJSON {
		return usagef("--watch draws report cards for people; it does not print JSON: drop one of them")
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("check needs a stage and optionally a folder: workshop check 4, workshop check 4 stages/stage4")
	}
	n, err := stageArg(rest[0])
	if err != nil {
		return err
	}
	switch *rt {
	case "docker", "local", "auto":
	default:
		return usagef("unknown runtime %q; valid: docker, local, auto", *rt)
	}
	root, rootErr := env.root()
	dir, err := checkDir(env, root, rootErr, n, rest[1:])
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	sweep(ctx, env, *rt)
	defer stage.KillStrays() // what slipped out of a stopped service unseen
	progress := env.Stderr
	if *watch {
		err := check.Watch(ctx, check.WatchOptions{
			Options: check.Options{Stage: n, Dir: dir, Runtime: *rt, Progress: progress},
			Out:     env.Stdout, Color: env.color(), Clear: env.Terminal,
			Ran: func(res *check.Result) {
				if rootErr == nil {
					saveResult(root, n, dir, res)
					postToClass(env, root, n, dir, res)
				}
			},
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stderr, "stopped watching: the stage was stopped, nothing is left running")
		return nil
	}
	res, err := check.Run(ctx, check.Options{Stage: n, Dir: dir, Runtime: *rt, Progress: progress})
	if err != nil {
		return interrupted(env, ctx, err)
	}
	if *asJSON {
		if err := check.WriteJSON(env.Stdout, res); err != nil {
			return err
		}
	} else {
		check.WriteReport(env.Stdout, res, env.color())
	}
	if rootErr == nil {
		saveResult(root, n, dir, res)
		postToClass(env, root, n, dir, res) // nothing unless this checkout joined a class
	}
	if !res.OK() {
		return errSilentFailure
	}
	return nil
}

// checkDir is the folder to check: the argument, or the learner's exercise.
func checkDir(env *Env, root string, rootErr error, n int, rest []string) (string, error) {
	if len(rest) == 1 {
		dir := rest[0]
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(env.Dir, dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			return "", usagef("%s is not a stage module (no go.mod there)", rest[0])
		}
		return dir, nil
	}
	if rootErr != nil {
		return "", rootErr
	}
	dir := repo.ExerciseDir(root, n)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("no exercise for stage %d at %s yet; check the reference with: workshop check %d stages/stage%d", n, dir, n, n)
	}
	return dir, nil
}

// saveResult remembers the result for `workshop list`; a failure to save is
// not worth failing the check for.
func saveResult(root string, n int, dir string, res *check.Result) {
	st, err := state.Load(root)
	if err != nil {
		return
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		rel = dir
	}
	st.Checks[strconv.Itoa(n)] = state.CheckResult{Dir: rel, Passed: res.Passed(), Total: len(res.Outcomes), At: time.Now().UTC(), Failing: res.Failing()}
	_ = st.Save(root)
}

// sweep removes what earlier runs killed before they could clean up (a
// SIGKILL, a crash) left behind: their local services, their temporary
// folders, and, unless rt is local, their containers, networks and images.
func sweep(ctx context.Context, env *Env, rt string) {
	sweepLocal(env)
	if rt != "local" {
		if left, err := runtime.Sweep(ctx, false); err == nil && left != (runtime.Leftovers{}) {
			fmt.Fprintf(env.Stderr, "removed leftovers of an earlier run: %d containers, %d networks, %d images\n", left.Containers, left.Networks, left.Images)
		}
	}
}

// sweepLocal stops the local services of an earlier run that was killed
// before it could stop them (SIGKILL, a crash) and removes its temporary
// folders, and says so.
func sweepLocal(env *Env) {
	if n := stage.SweepTemp(); n > 0 {
		fmt.Fprintf(env.Stderr, "removed %d temporary folder(s) left by an earlier workshop run that was killed\n", n)
	}
	n, err := stage.SweepLocal()
	switch {
	case err != nil:
		fmt.Fprintf(env.Stderr, "looking for services an earlier run left running: %v\n", err)
	case n > 0:
		fmt.Fprintf(env.Stderr, "stopped %d service process(es) left running by an earlier workshop run that was killed\n", n)
	}
}
