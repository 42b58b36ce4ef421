// Package cli is the workshop command's thin layer: it parses each verb's
// arguments and calls into the packages that do the work, writing to the
// io.Writers it is given so tests call it directly.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// Env is what a verb may use from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader // answers to questions; nil means none (every question is "no")
	Dir            string    // the working directory
	Terminal       bool      // Stdout is a terminal
	Width          int       // terminal width, 0 when unknown
}

// color reports whether output may carry ANSI colours.
func (e *Env) color() bool { return e.Terminal && os.Getenv("NO_COLOR") == "" }

// output is how markdown is rendered for this environment: style as given
// (or chosen), prose wrapped at width (the --width flag, 0 when not given).
func (e *Env) output(style string, width int) lesson.Output {
	return lesson.Output{Terminal: e.Terminal, Width: e.proseWidth(width), Style: style}
}

// proseWidth is the width rendered prose wraps at: --width, else the
// terminal's, else COLUMNS (a pipe has no width of its own), else 0 (the
// renderer's default).
func (e *Env) proseWidth(flag int) int {
	if flag > 0 {
		return flag
	}
	if e.Terminal && e.Width > 0 {
		return e.Width
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// renderFlags are the flags of every verb that renders markdown.
type renderFlags struct {
	style *string
	width *int
}

func addRenderFlags(fs *flag.FlagSet) renderFlags {
	return renderFlags{
		style: fs.String("style", "", "rendering style: "+strings.Join(lesson.Styles, ", ")+" (default: from the terminal)"),
		width: fs.Int("width", 0, "wrap prose at this many columns (default: the terminal's width, or $COLUMNS); code is never wrapped"),
	}
}

// output checks the flags and says how to render.
func (r renderFlags) output(env *Env) (lesson.Output, error) {
	if *r.width != 0 && *r.width < lesson.MinWidth {
		return lesson.Output{}, usagef("--width %d is too narrow; at least %d", *r.width, lesson.MinWidth)
	}
	o := env.output(*r.style, *r.width)
	if _, err := lesson.ChooseStyle(o); err != nil {
		return lesson.Output{}, usageError{err.Error()}
	}
	return o, nil
}

func (e *Env) root() (string, error) { return repo.Root(e.Dir) }

// stageArg reads a stage number argument; a bad one is a usage error.
func stageArg(arg string) (int, error) {
	n, err := repo.ParseStage(arg)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	return n, nil
}

// stageAndRoot reads a stage number argument and finds the checkout.
func (e *Env) stageAndRoot(arg string) (int, string, error) {
	n, err := stageArg(arg)
	if err != nil {
		return 0, "", err
	}
	root, err := e.root()
	return n, root, err
}

// exerciseAndRoot reads an exercise id argument ("4.1"), finds the checkout
// and the exercise in its stage's manifest; a bad id is a usage error.
func (e *Env) exerciseAndRoot(id string) (string, *lesson.Exercise, error) {
	n, err := lesson.SplitID(id)
	if err != nil {
		return "", nil, usageError{err.Error()}
	}
	root, err := e.root()
	if err != nil {
		return "", nil, err
	}
	s, err := lesson.Load(root, n)
	if err != nil {
		return "", nil, err
	}
	ex, err := s.Exercise(id)
	if err != nil {
		return "", nil, usageError{err.Error()}
	}
	return root, ex, nil
}

// interrupted turns the error of a run stopped by Ctrl-C into one line that
// says the stage was stopped; other errors pass through.
func interrupted(env *Env, ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "interrupted: the stage was stopped, nothing is left running")
	return errSilentFailure
}

// verb is one subcommand.
type verb struct {
	name    string
	args    string // argument synopsis
	summary string
	run     func(env *Env, args []string) error
}

var verbs []verb

func init() {
	verbs = []verb{
		{"list", "", "the stages, their steps, and which of your stages pass", runList},
		{"show", "N [STEP]", "read a lesson step in the terminal (the overview without STEP)", runShow},
		{"diff", "N [FILE] [--stat] [--mine] [--tests]", "what stage N adds to stage N-1 (or, with --mine, what your exercise lacks)", runDiff},
		{"hint", "N.M", "the next hint of exercise N.M", runHint},
		{"doctor", "", "check Go, Docker and the ports, for pasting to the instructor", runDoctor},
		{"up", "N [--exercise] [--break NAME] [--no-viewer]", "run stage N on this machine with the built-in telemetry viewer (Ctrl-C stops it)", runUp},
		{"check", "N [DIR] [--runtime docker|local|auto] [--json] [--watch]", "run your stage (exercises/stageN, or DIR) and check its API, metrics, spans and logs", runCheck},
		{"grade", "DIR... [--stage N] [--runtime docker|local] [--csv|--json]", "check many learners' checkouts and print one table", runGrade},
		{"gen", "", "maintainers: regenerate exercises/ and solutions/ from the marked regions of stages/", runGen},
		{"pack", "N [DIR] [--out DIR/bin]", "maintainers: build stage N's services, probe and Dockerfile for the Docker engine (make stageN-docker)", runPack},
		{"branches", "[--from REV] [--dry-run]", "maintainers: write the stage-N and exercise-N git branches from a commit's stages/", runBranches},
		{"traffic", "N [--url URL] [--users 5] [--max-rolls 10] [--async-probability 0.3] [--duration 60s]", "send simulated users' rolls to a running stage N", runTraffic},
		{"bench", "N [--json] [--repeat 5]", "measure stage N here: sync vs async rolls, telemetry overhead, footprint", runBench},
		{"reset", "N [N.M] [--yes]", "put exercises/stageN (or exercise N.M's files) back to the starting point, backing up yours", runReset},
		{"solution", "N.M [--yes] [--style]", "the reference solution of exercise N.M", runSolution},
		{"catchup", "N [--yes]", "join at stage N: the earlier stages' exercises become their finished code, yours backed up", runCatchup},
		{"class", classSynopsis, "the instructor's room: a live board of the class's checks and telemetry (serve, join, leave)", runClass},
	}
}

// usageError is bad input: exit status 2 and a pointer to the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Main runs the command line args (without the program name) and returns the
// exit status: 0 on success, 1 when the work failed, 2 on bad input.
func Main(args []string, env *Env) int {
	if len(args) == 0 {
		args = []string{"list"}
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 1 {
			if v, ok := findVerb(args[1]); ok {
				return finish(env, v.run(env, []string{"--help"}))
			}
		}
		writeUsage(env.Stdout)
		return 0
	}
	v, ok := findVerb(name)
	if !ok {
		fmt.Fprintf(env.Stderr, "workshop: unknown command %q\n\n", name)
		writeUsage(env.Stderr)
		return 2
	}
	return finish(env, v.run(env, args[1:]))
}

func finish(env *Env, err error) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(env.Stderr, "workshop: %s\n", u.msg)
		return 2
	case errors.Is(err, errSilentFailure):
		return 1
	default:
		fmt.Fprintf(env.Stderr, "workshop: %v\n", err)
		return 1
	}
}

// errSilentFailure: the verb already said what failed.
var errSilentFailure = errors.New("failed")

func findVerb(name string) (verb, bool) {
	for _, v := range verbs {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "workshop — the Go observability workshop, in your terminal")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: workshop <command> [arguments]")
	fmt.Fprintln(w)
	sorted := append([]verb(nil), verbs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, v := range sorted {
		fmt.Fprintf(w, "  %-9s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `workshop <command> --help` for a command's arguments.")
}

// newFlags makes a verb's flag set; parse errors and --help go to stderr.
func newFlags(env *Env, v string, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(v, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		verb, _ := findVerb(v)
		fmt.Fprintf(env.Stderr, "Usage: workshop %s %s\n\n%s\n", v, synopsis, verb.summary)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(env.Stderr)
		if b.Len() > 0 {
			fmt.Fprintf(env.Stderr, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}

// parse parses args, allowing flags after positional arguments
// (`workshop diff 4 --stat`), and turns parse errors into usage errors.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error() + " (see --help)"}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
