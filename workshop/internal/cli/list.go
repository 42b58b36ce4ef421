package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/state"
)

func runList(env *Env, args []string) error {
	fs := newFlags(env, "list", "")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("list takes no arguments (got %q)", rest[0])
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	stages, err := lesson.LoadAll(root)
	if err != nil {
		return err
	}
	st, err := state.Load(root)
	if err != nil {
		return err
	}

	passing := 0
	for _, s := range stages {
		if st.Checks[strconv.Itoa(s.Number)].OK() {
			passing++
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "The Go observability workshop: %d stages\n", len(stages))
	fmt.Fprintf(w, "Progress %s %d/%d stages pass\n\n", bar(passing, len(stages), 20), passing, len(stages))
	for _, s := range stages {
		last := st.Checks[strconv.Itoa(s.Number)]
		fmt.Fprintf(w, "Stage %d  %s  %s\n", s.Number, s.Title, stageStatus(env, last))
		fmt.Fprintf(w, "         %s\n", s.Summary)
		for _, step := range s.Steps {
			ex := ""
			if step.Exercise != "" {
				ex = "  (exercise " + step.Exercise + ")"
			}
			fmt.Fprintf(w, "  step %-4s %s%s\n", step.ID, step.Title, ex)
		}
		if line := failingLine(s.Number, last); line != "" {
			fmt.Fprintf(w, "  %s\n", line)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Read a step: workshop show 1 1   ·   check your stage: workshop check 1")
	return nil
}

// failingLine names the checks that failed in a stage's last check, with
// the step that teaches each. Ids the catalog no longer has (a state file
// of another version) are left out.
func failingLine(n int, c state.CheckResult) string {
	if c.Total == 0 || c.OK() {
		return ""
	}
	steps := map[string]string{}
	for _, chk := range check.Catalog(n) {
		steps[chk.ID] = chk.Step
	}
	var parts []string
	for _, id := range c.Failing {
		if step, ok := steps[id]; ok {
			parts = append(parts, fmt.Sprintf("check %s (step %s)", id, step))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("which checks fail: run workshop check %d again", n)
	}
	return "failing: " + strings.Join(parts, ", ")
}

func stageStatus(env *Env, c state.CheckResult) string {
	switch {
	case c.Total == 0:
		return "[not checked yet]"
	case c.OK():
		return paint(env, "\x1b[32m", fmt.Sprintf("[passes: %d/%d checks, %s]", c.Passed, c.Total, c.At.Local().Format("Jan 2 15:04")))
	default:
		return paint(env, "\x1b[33m", fmt.Sprintf("[%d/%d checks pass, %s]", c.Passed, c.Total, c.At.Local().Format("Jan 2 15:04")))
	}
}

func paint(env *Env, code, s string) string {
	if !env.color() {
		return s
	}
	return code + s + "\x1b[0m"
}

// bar draws a progress bar of width cells.
func bar(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}
