package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	dim    = "\x1b[2m"
	reset  = "\x1b[0m"
)

// WriteReport prints the report card: one line per check, and under each
// failure what was expected, what was seen (with the trace when it helps),
// where to look in the code, the hint and the lesson step to reread.
func WriteReport(w io.Writer, r *Result, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + reset
	}
	fmt.Fprintf(w, "workshop check %d  %s  (%s runtime, %s)\n\n", r.Stage, r.Dir, r.Runtime, r.Duration.Round(100e6))
	if r.Setup != nil {
		writeSetupFailure(w, r, paint)
		return
	}
	width := 0
	for _, o := range r.Outcomes {
		width = max(width, len(o.ID))
	}
	const pad = "          "
	var failing []string
	for _, o := range r.Outcomes {
		name := fmt.Sprintf("check %-*s", width, o.ID)
		if o.Passed {
			fmt.Fprintf(w, "  %s  %s  %s\n", paint(green, "PASS"), name, o.Title)
			continue
		}
		if o.Skipped { // why is said once, by the failure it follows from
			fmt.Fprintf(w, "  %s  %s  %s\n", paint(yellow, "SKIP"), name, o.Title)
			continue
		}
		failing = append(failing, "check "+o.ID)
		fmt.Fprintf(w, "  %s  %s  %s\n", paint(red, "FAIL"), name, o.Title)
		if f := o.Failure; f != nil {
			fmt.Fprintf(w, "%sexpected: %s\n", pad, f.Expected)
			fmt.Fprintf(w, "%sseen:     %s\n", pad, f.Seen)
			if f.Trace != "" {
				fmt.Fprintf(w, "%sthe trace received:\n%s\n", pad, indent(f.Trace, pad))
			}
		}
		for i, line := range whereLines(o.Places()) {
			label := "where:   "
			if i > 0 {
				label = "         "
			}
			fmt.Fprintf(w, "%s%s %s\n", pad, label, line)
		}
		fmt.Fprintf(w, "%s%s     %s\n", pad, paint(yellow, "hint:"), o.HintText())
		fmt.Fprintf(w, "%s%s\n", pad, paint(dim, "reread:   "+lesson.StepRef(o.StepToRead())))
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d/%d checks pass", r.Passed(), len(r.Outcomes))
	skipped := ""
	if n := r.Skipped(); n > 0 {
		skipped = fmt.Sprintf(" %d skipped: they need the stage to answer.", n)
	}
	if r.OK() {
		fmt.Fprintln(w, paint(green, summary+": stage "+fmt.Sprint(r.Stage)+" is done."))
	} else {
		fmt.Fprintln(w, paint(red, summary+"; failing: "+strings.Join(failing, ", ")+"."+skipped))
	}
}

// whereLines says where to look, one place a line; the first line naming
// an exercise says how to get its hints.
func whereLines(places []Place) []string {
	var out []string
	hinted := map[string]bool{}
	for _, p := range places {
		line := p.String()
		switch {
		case p.Exercise == "":
		case hinted[p.Exercise]:
			line += ": exercise " + p.Exercise
		default:
			hinted[p.Exercise] = true
			line += ": " + lesson.ExerciseRef(p.Exercise)
		}
		out = append(out, line)
	}
	return out
}

func writeSetupFailure(w io.Writer, r *Result, paint func(string, string) string) {
	var be *stage.BuildError
	if errors.As(r.Setup, &be) {
		fmt.Fprintf(w, "  %s %s does not compile, so no check could run:\n\n%s\n\n", paint(red, "BUILD"), be.Service, indent(strings.TrimSpace(be.Output), "    "))
		fmt.Fprintln(w, "Fix the compile error above (go build ./... in the stage folder shows it too), then check again.")
		return
	}
	fmt.Fprintf(w, "  %s the stage did not start, so no check could run:\n    %v\n", paint(red, "START"), r.Setup)
	for service, lines := range r.LogTail {
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n  last lines of %s:\n%s\n", service, indent(strings.Join(lines, "\n"), "    "))
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// JSONSchema is the version of the JSON shape. 2: a check's "id" is its
// key ("async-children"), "where" lists the places to look. 3: a check's
// "status" may be "skip" (not evaluated: the stage did not answer), with
// the reason in "seen".
const JSONSchema = 3

// JSON is the stable machine-readable shape of a result (schema JSONSchema).
type JSON struct {
	Schema     int         `json:"schema"`
	Stage      int         `json:"stage"`
	Dir        string      `json:"dir"`
	Runtime    string      `json:"runtime"`
	OK         bool        `json:"ok"`
	Passed     int         `json:"passed"`
	Total      int         `json:"total"`
	DurationMS int64       `json:"duration_ms"`
	Setup      string      `json:"setup_error,omitempty"`
	Checks     []JSONCheck `json:"checks"`
}

// JSONCheck is one check in JSON. Where, Expected, Seen, Trace and Hint are
// set only on a failure.
type JSONCheck struct {
	ID       string  `json:"id"` // the check's key
	Title    string  `json:"title"`
	Status   string  `json:"status"` // "pass", "fail" or "skip"
	Expected string  `json:"expected,omitempty"`
	Seen     string  `json:"seen,omitempty"`
	Trace    string  `json:"trace,omitempty"`
	Where    []Place `json:"where,omitempty"`
	Hint     string  `json:"hint,omitempty"`
	Step     string  `json:"step"` // the lesson step that teaches it
}

// ToJSON converts a result.
func (r *Result) ToJSON() JSON {
	j := JSON{Schema: JSONSchema, Stage: r.Stage, Dir: r.Dir, Runtime: r.Runtime, OK: r.OK(), Passed: r.Passed(),
		Total: len(r.Outcomes), DurationMS: r.Duration.Milliseconds(), Checks: []JSONCheck{}}
	if r.Setup != nil {
		j.Setup = r.Setup.Error()
	}
	for _, o := range r.Outcomes {
		c := JSONCheck{ID: o.ID, Title: o.Title, Status: "pass", Step: o.Step}
		switch {
		case o.Skipped:
			c.Status, c.Seen = "skip", o.Err
		case !o.Passed:
			c.Status, c.Hint, c.Where, c.Step = "fail", o.HintText(), o.Places(), o.StepToRead()
			if o.Failure != nil {
				c.Expected, c.Seen, c.Trace = o.Failure.Expected, o.Failure.Seen, o.Failure.Trace
			}
		}
		j.Checks = append(j.Checks, c)
	}
	return j
}

// Failing lists the ids of the checks that failed (skipped ones are not).
func (r *Result) Failing() []string {
	var ids []string
	for _, o := range r.Outcomes {
		if !o.Passed && !o.Skipped {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// WriteJSON prints the result as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.ToJSON())
}
