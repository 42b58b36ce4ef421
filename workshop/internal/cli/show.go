package cli

import (
	"fmt"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
)

func runShow(env *Env, args []string) error {
	fs := newFlags(env, "show", "N [STEP]")
	style := fs.String("style", "", "rendering style: "+strings.Join(lesson.Styles, ", ")+" (default: from the terminal)")
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
		footer = fmt.Sprintf("Next: workshop show %d %s", n, s.Steps[0].ID)
	}
	md, err := s.Read(file)
	if err != nil {
		return err
	}
	if _, err := lesson.ChooseStyle(env.output(*style)); err != nil {
		return usageError{err.Error()}
	}
	out, err := lesson.Render(md, env.output(*style))
	if err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, out)
	if footer != "" {
		fmt.Fprintf(env.Stdout, "\n%s\n", footer)
	}
	return nil
}

// navigation points to the previous and next steps.
func navigation(s *lesson.Stage, cur *lesson.Step) string {
	var parts []string
	for i, step := range s.Steps {
		if step.ID != cur.ID {
			continue
		}
		if i > 0 {
			parts = append(parts, fmt.Sprintf("Previous: workshop show %d %s", s.Number, s.Steps[i-1].ID))
		}
		if i+1 < len(s.Steps) {
			parts = append(parts, fmt.Sprintf("Next: workshop show %d %s", s.Number, s.Steps[i+1].ID))
		}
	}
	if cur.Exercise != "" {
		parts = append(parts, fmt.Sprintf("Stuck? workshop hint %s", cur.Exercise))
	}
	footer := strings.Join(parts, "   ·   ")
	if len(cur.Checks) > 0 {
		footer += fmt.Sprintf("\nChecked by workshop check %d: %s", s.Number, strings.Join(cur.Checks, ", "))
	}
	return footer
}
