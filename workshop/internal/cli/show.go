package cli

import (
	"fmt"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
)

func runShow(env *Env, args []string) error {
	fs := newFlags(env, "show", "N [STEP] [--style S] [--width N]")
	render := addRenderFlags(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usagef("show needs a stage and optionally a step: workshop show 4, workshop show 4 2")
	}
	n, root, err := env.stageAndRoot(rest[0])
	if err != nil {
		return err
	}
	s, err := lesson.Load(root, n)
	if err != nil {
		return err
	}

	file, footer := s.Overview, ""
	if len(rest) == 2 && rest[1] != "overview" {
		step, err := s.Step(rest[1])
		if err != nil {
			return usageError{err.Error()}
		}
		file = step.File
		footer = navigation(s, step)
	} else if len(s.Steps) > 0 {
		footer = "Next: " + lesson.StepRef(s.Steps[0].ID)
	}
	md, err := s.Read(file)
	if err != nil {
		return err
	}
	o, err := render.output(env)
	if err != nil {
		return err
	}
	out, err := lesson.Render(md, o)
	if err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, out)
	if footer != "" {
		fmt.Fprintf(env.Stdout, "\n%s\n", footer)
	}
	return nil
}

// navigation points to the previous and next steps, the exercise's hints
// and the checks of the step, each id with its kind.
func navigation(s *lesson.Stage, cur *lesson.Step) string {
	var parts []string
	for i, step := range s.Steps {
		if step.ID != cur.ID {
			continue
		}
		if i > 0 {
			parts = append(parts, "Previous: "+lesson.StepRef(s.Steps[i-1].ID))
		}
		if i+1 < len(s.Steps) {
			parts = append(parts, "Next: "+lesson.StepRef(s.Steps[i+1].ID))
		}
	}
	if cur.Exercise != "" {
		parts = append(parts, "Stuck? "+lesson.ExerciseRef(cur.Exercise))
	}
	footer := strings.Join(parts, "   ·   ")
	if len(cur.Checks) > 0 {
		checks := make([]string, len(cur.Checks))
		for i, c := range cur.Checks {
			checks[i] = "check " + c
		}
		footer += fmt.Sprintf("\nChecked by workshop check %d: %s", s.Number, strings.Join(checks, ", "))
	}
	return footer
}
