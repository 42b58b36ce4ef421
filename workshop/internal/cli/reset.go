package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
)

func runReset(env *Env, args []string) error {
	fs := newFlags(env, "reset", "N [N.M] [--yes]")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 1 && strings.Contains(rest[0], ".") {
		rest = []string{strings.SplitN(rest[0], ".", 2)[0], rest[0]} // `reset 4.1` means `reset 4 4.1`
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("reset needs a stage and optionally an exercise: workshop reset 4, workshop reset 4 4.1")
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}
	if !slices.Contains(exercise.Stages, n) {
		return usagef("stage %d has no exercises to reset; stages with exercises: %s", n, stageList(exercise.Stages))
	}
	stageRel := filepath.Join("exercises", fmt.Sprintf("stage%d", n))
	what := stageRel
	rels := []string{stageRel}
	if len(rest) == 2 {
		s, err := lesson.Load(root, n)
		if err != nil {
			return err
		}
		ex, err := s.Exercise(rest[1])
		if err != nil {
			return usageError{err.Error()}
		}
		rels = nil
		for _, f := range ex.Files {
			if !filepath.IsLocal(filepath.FromSlash(f)) {
				return fmt.Errorf("exercise %s lists %s, which is outside its stage", ex.ID, f)
			}
			rels = append(rels, filepath.Join(stageRel, filepath.FromSlash(f)))
		}
		what = fmt.Sprintf("exercise %s (%s)", ex.ID, strings.Join(ex.Files, ", "))
	}

	if !*yes && !env.confirm(fmt.Sprintf("Reset %s to its starting point? Your version is backed up first.", what)) {
		fmt.Fprintln(env.Stderr, "Nothing changed.")
		return errSilentFailure
	}

	// Generate the starting point first, so a failure changes nothing.
	tmp, err := os.MkdirTemp("", "workshop-reset-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := exercise.GenerateTo(root, tmp); err != nil {
		return fmt.Errorf("generating the starting point: %w", err)
	}
	backup, err := files.Replace(root, tmp, rels)
	if backup != "" {
		fmt.Fprintf(env.Stdout, "Your version is backed up in %s\n", backup)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is back at its starting point.\n", what)
	return nil
}
