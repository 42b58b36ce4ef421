package cli

import (
	"fmt"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/state"
)

func runHint(env *Env, args []string) error {
	fs := newFlags(env, "hint", "N.M [--all] [--style S] [--width N]")
	all := fs.Bool("all", false, "show again every hint revealed so far, without revealing a new one")
	render := addRenderFlags(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("hint needs one exercise id: workshop hint 4.1")
	}
	o, err := render.output(env)
	if err != nil {
		return err
	}
	root, ex, err := env.exerciseAndRoot(rest[0])
	if err != nil {
		return err
	}
	st, err := state.Load(root)
	if err != nil {
		return err
	}

	revealed := st.Hints[ex.ID]
	if !*all && revealed < len(ex.Hints) {
		revealed++
		st.Hints[ex.ID] = revealed
		if err := st.Save(root); err != nil {
			return err
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "Exercise %s: %s\n", ex.ID, ex.Title)
	fmt.Fprintf(w, "Write it in %s; %s teaches it.\n\n", strings.Join(ex.Files, ", "), lesson.StepRef(ex.Step))
	if revealed == 0 {
		fmt.Fprintln(w, "No hint revealed yet: run `workshop hint "+ex.ID+"`.")
		return nil
	}
	from := revealed - 1
	if *all {
		from = 0
	}
	for i := from; i < revealed; i++ {
		// A hint is markdown: its code, the last hint's above all, must
		// come out whole to be copied.
		text, err := lesson.Render(ex.Hints[i], o)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Hint %d of %d:\n%s\n", i+1, len(ex.Hints), strings.Trim(text, "\n"))
		fmt.Fprintln(w)
	}
	if revealed < len(ex.Hints) {
		fmt.Fprintf(w, "Still stuck? `workshop hint %s` reveals the next one.\n", ex.ID)
	} else {
		fmt.Fprintf(w, "That was the last hint. `workshop hint %s --all` shows them all again.\n", ex.ID)
	}
	if len(ex.Tests) > 0 {
		n, _ := lesson.SplitID(ex.ID) // valid: exerciseAndRoot found it
		after := ""
		if s, err := lesson.Load(root, n); err == nil {
			if note := exercise.PriorNote(s, ex.ID); note != "" {
				after = ", " + note
			}
		}
		fmt.Fprintf(w, "\nDone when these pass, in exercises/stage%d%s:\n  %s\n", n, after, exercise.TestCommand(*ex))
	}
	return nil
}
