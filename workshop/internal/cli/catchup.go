package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func runCatchup(env *Env, args []string) error {
	fs := newFlags(env, "catchup", "N [--yes]")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("catchup needs the stage you join at: workshop catchup 3")
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}
	if n == 1 {
		return usagef("there is nothing before stage 1 to catch up on; catchup takes 2–%d", repo.Stages)
	}
	var stages, rels []string
	for k := 1; k < n; k++ {
		if !slices.Contains(exercise.Stages, k) {
			return usagef("stage %d has no exercises to catch up on; stages with exercises: %s", k, stageList(exercise.Stages))
		}
		stages = append(stages, fmt.Sprintf("stage%d", k))
		rels = append(rels, filepath.Join("exercises", fmt.Sprintf("stage%d", k)))
	}

	what := "exercises/" + stages[0]
	if len(stages) > 1 {
		what = fmt.Sprintf("exercises/stage1 to exercises/stage%d", n-1)
	}
	q := fmt.Sprintf("Replace %s with the finished code, to join at stage %d? Your version is backed up first.", what, n)
	if !*yes && !env.confirm(q) {
		fmt.Fprintln(env.Stderr, "Nothing changed.")
		return errSilentFailure
	}

	// Build the finished code first, so a failure changes nothing.
	tmp, err := os.MkdirTemp("", "workshop-catchup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for k := 1; k < n; k++ {
		if err := exercise.Finished(root, k, filepath.Join(tmp, rels[k-1])); err != nil {
			return fmt.Errorf("the finished code of stage %d: %w", k, err)
		}
	}

	backup, err := files.Replace(root, tmp, rels)
	if backup != "" {
		fmt.Fprintf(env.Stdout, "Your version is backed up in %s\n", backup)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "The finished code is in %s. Go on with: workshop show %d\n", what, n)
	return nil
}
