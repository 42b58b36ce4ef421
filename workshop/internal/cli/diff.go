package cli

import (
	"fmt"
	"os"
	"strconv"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/stagediff"
)

func runDiff(env *Env, args []string) error {
	fs := newFlags(env, "diff", "N [FILE] [--stat] [--mine] [--tests]")
	stat := fs.Bool("stat", false, "only the files and their line counts")
	mine := fs.Bool("mine", false, "compare your exercise (exercises/stageN) with the reference stage")
	tests := fs.Bool("tests", false, "include the *_test.go files")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("diff needs a stage and optionally a file: workshop diff 4, workshop diff 4 dice-roller/batch.go")
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}

	opts := stagediff.Options{Tests: *tests}
	if len(rest) == 2 {
		opts.Only = rest[1]
	}
	var old, new, title string
	switch {
	case *mine:
		old, new = repo.ExerciseDir(root, n), repo.StageDir(root, n)
		if _, err := os.Stat(old); err != nil {
			return fmt.Errorf("no exercise for stage %d at %s", n, old)
		}
		opts.Rename = [2]string{"exercises/stage" + strconv.Itoa(n), "stages/stage" + strconv.Itoa(n)}
		title = fmt.Sprintf("What your exercise of stage %d lacks (- yours, + the reference):", n)
	case n == 1:
		new = repo.StageDir(root, 1)
		title = "Stage 1 is the start: everything in it is new."
	default:
		old, new = repo.StageDir(root, n-1), repo.StageDir(root, n)
		opts.Rename = [2]string{"stages/stage" + strconv.Itoa(n-1), "stages/stage" + strconv.Itoa(n)}
		title = fmt.Sprintf("What stage %d adds to stage %d (import paths renamed first):", n, n-1)
	}
	files, err := stagediff.Compare(old, new, opts)
	if err != nil {
		return usageError{err.Error()}
	}
	fmt.Fprintln(env.Stdout, title)
	if len(files) == 0 {
		fmt.Fprintln(env.Stdout, "no differences")
		return nil
	}
	stagediff.WriteStat(env.Stdout, files, env.color())
	if !*stat {
		fmt.Fprintln(env.Stdout)
		stagediff.WriteDiff(env.Stdout, files, env.color())
	}
	return nil
}
