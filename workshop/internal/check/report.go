package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

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
// and the hint with the lesson step to read.
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
	for _, o := range r.Outcomes {
		if o.Passed {
			fmt.Fprintf(w, "  %s %-5s %s\n", paint(green, "PASS"), o.ID, o.Title)
			continue
		}
		fmt.Fprintf(w, "  %s %-5s %s\n", paint(red, "FAIL"), o.ID, o.Title)
		if f := o.Failure; f != nil {
			fmt.Fprintf(w, "             expected: %s\n", f.Expected)
			fmt.Fprintf(w, "             seen:     %s\n", f.Seen)
			if f.Trace != "" {
				fmt.Fprintf(w, "             the trace received:\n%s\n", indent(f.Trace, "           "))
			}
		}
		fmt.Fprintf(w, "             %s %s\n", paint(yellow, "hint:"), o.Hint)
		fmt.Fprintf(w, "             %s\n", paint(dim, fmt.Sprintf("read: workshop show %s %s", strings.SplitN(o.Step, ".", 2)[0], o.Step)))
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d/%d checks pass", r.Passed(), len(r.Outcomes))
	if r.OK() {
		fmt.Fprintln(w, paint(green, summary+": stage "+fmt.Sprint(r.Stage)+" is done."))
	} else {
		fmt.Fprintln(w, paint(red, summary+"."))
	}
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

// JSON is the stable machine-readable shape of a result (schema version 1).
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

// JSONCheck is one check in JSON.
type JSONCheck struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	Title    string `json:"title"`
	Status   string `json:"status"` // "pass" or "fail"
	Expected string `json:"expected,omitempty"`
	Seen     string `json:"seen,omitempty"`
	Trace    string `json:"trace,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Step     string `json:"step"`
}

// ToJSON converts a result.
func (r *Result) ToJSON() JSON {
	j := JSON{Schema: 1, Stage: r.Stage, Dir: r.Dir, Runtime: r.Runtime, OK: r.OK(), Passed: r.Passed(),
		Total: len(r.Outcomes), DurationMS: r.Duration.Milliseconds(), Checks: []JSONCheck{}}
	if r.Setup != nil {
		j.Setup = r.Setup.Error()
	}
	for _, o := range r.Outcomes {
		c := JSONCheck{ID: o.ID, Key: o.Key, Title: o.Title, Status: "pass", Step: o.Step}
		if !o.Passed {
			c.Status, c.Hint = "fail", o.Hint
			if o.Failure != nil {
				c.Expected, c.Seen, c.Trace = o.Failure.Expected, o.Failure.Seen, o.Failure.Trace
			}
		}
		j.Checks = append(j.Checks, c)
	}
	return j
}

// WriteJSON prints the result as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.ToJSON())
}
