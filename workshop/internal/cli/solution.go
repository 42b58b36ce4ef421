package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/state"
)

func runSolution(env *Env, args []string) error {
	fs := newFlags(env, "solution", "N.M [--yes] [--style S] [--width N]")
	yes := fs.Bool("yes", false, "show it without asking, even before your check passes")
	render := addRenderFlags(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("solution needs one exercise id: workshop solution 4.1")
	}
	n, err := lesson.SplitID(rest[0])
	if err != nil {
		return usageError{err.Error()}
	}
	o, err := render.output(env)
	if err != nil {
		return err
	}
	root, ex, err := env.exerciseAndRoot(rest[0])
	if err != nil {
		return err
	}
	page := filepath.Join(root, "solutions", "stage"+strconv.Itoa(n), ex.ID+".md")
	md, err := os.ReadFile(page)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no solution page %s; maintainers generate it with: workshop gen", page)
	} else if err != nil {
		return err
	}
	st, err := state.Load(root)
	if err != nil {
		return err
	}
	if !*yes && !st.Checks[strconv.Itoa(n)].OK() {
		q := fmt.Sprintf("You have not passed stage %d's check yet. Show the solution anyway?", n)
		if !env.confirm(q) {
			fmt.Fprintf(env.Stderr, "Not shown. `workshop hint %s` gives a nudge instead; `workshop check %d` checks your work.\n", ex.ID, n)
			return errSilentFailure
		}
	}
	out, err := lesson.Render(string(md), o)
	if err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, out)
	return nil
}
