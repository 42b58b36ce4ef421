// Package exercise derives the learners' trees from the reference stages:
// exercises/stageN, the stage module with the code each exercise teaches
// replaced by a TODO, and solutions/stageN, one page per exercise with that
// code. The stages stay the single source of truth; what a learner writes is
// marked there with whole comment lines
//
//	// exercise N.M: begin
//	...
//	// exercise N.M: end
//
// An exercise may have several regions, in any of the files its manifest
// entry lists. A region is chosen so that the code still compiles without its
// body (imports left unused are dropped). Where that is impossible, lines
// `// exercise N.M: stub: CODE` right after the begin marker give the CODE
// the exercise tree keeps in place of the body; the solution leaves them out.
package exercise

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// Stages are the stages whose exercises are generated (and marked) so far.
var Stages = []int{1, 2, 3, 4}

// Region is one marked region of a stage file.
type Region struct {
	ID     string   // the exercise, "N.M"
	File   string   // relative to the stage module, slash-separated
	Line   int      // the begin marker's line, 1-based
	Indent string   // the markers' indentation
	Stub   []string // code kept in the exercise, without indentation
	Body   []string // the reference code between the markers (and after the stubs)
}

var marker = regexp.MustCompile(`^(\s*)// exercise (\d+\.\d+): (begin|end|stub: (.*))$`)

// StripMarkers removes the marker and stub lines from a file's text, so a
// diff between stages shows code, not which exercise each line belongs to.
func StripMarkers(text string) string {
	if !strings.Contains(text, "// exercise ") {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !marker.MatchString(strings.TrimRight(l, "\n")) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// Parse finds the regions of one file; markers must be balanced, not
// nested, and a stub line must directly follow its begin marker.
func Parse(file string, src []byte) ([]Region, error) {
	var out []Region
	var cur *Region
	for i, line := range strings.Split(string(src), "\n") {
		m := marker.FindStringSubmatch(line)
		if m == nil {
			if cur != nil {
				cur.Body = append(cur.Body, line)
			}
			continue
		}
		indent, id, kind := m[1], m[2], m[3]
		where := fmt.Sprintf("%s:%d", file, i+1)
		switch {
		case kind == "begin":
			if cur != nil {
				return nil, fmt.Errorf("%s: exercise %s begins inside exercise %s", where, id, cur.ID)
			}
			cur = &Region{ID: id, File: file, Line: i + 1, Indent: indent}
		case cur == nil || cur.ID != id:
			return nil, fmt.Errorf("%s: %q outside a region of exercise %s", where, strings.TrimSpace(line), id)
		case kind == "end":
			if len(cur.Body) == 0 {
				return nil, fmt.Errorf("%s: exercise %s's region is empty", where, id)
			}
			out = append(out, *cur)
			cur = nil
		default: // stub
			if len(cur.Body) > 0 {
				return nil, fmt.Errorf("%s: a stub of exercise %s must directly follow its begin marker", where, id)
			}
			cur.Stub = append(cur.Stub, m[4])
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: exercise %s never ends", file, cur.Line, cur.ID)
	}
	return out, nil
}

// Stub is the exercise version of a file: each region's body replaced by a
// TODO naming the exercise (and its stub code), the markers kept.
func Stub(src []byte, s *lesson.Stage) []byte {
	return stubSome(src, s, func(string) bool { return true })
}

// stubSome stubs the regions of the exercises for which undone is true and
// keeps the reference code (and the markers) of the others.
func stubSome(src []byte, s *lesson.Stage, undone func(id string) bool) []byte {
	var out []string
	var in string
	for _, line := range strings.Split(string(src), "\n") {
		m := marker.FindStringSubmatch(line)
		switch {
		case m != nil && m[3] == "begin" && undone(m[2]):
			in = m[2]
			out = append(out, line, m[1]+todo(s, in))
		case m != nil && m[3] == "end" && in != "":
			in = ""
			out = append(out, line)
		case m != nil && m[3] != "begin" && m[3] != "end": // stub
			if in != "" {
				out = append(out, m[1]+m[4])
			}
		case in == "":
			out = append(out, line)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func todo(s *lesson.Stage, id string) string {
	title, step := "", ""
	for _, e := range s.Exercises {
		if e.ID == id {
			title, step = e.Title, e.Step
		}
	}
	return fmt.Sprintf("// TODO (exercise %s): %s — read %s; hints: workshop hint %s", id, title, lesson.StepRef(step), id)
}

// PriorNote says which exercises must be done before id's tests can pass:
// the ones before it in the manifest ("Done when" is cumulative). Empty for
// the first.
func PriorNote(s *lesson.Stage, id string) string {
	var before []string
	for _, e := range s.Exercises {
		if e.ID == id {
			break
		}
		before = append(before, e.ID)
	}
	switch len(before) {
	case 0:
		return ""
	case 1:
		return "with exercise " + before[0] + " done first"
	}
	return "with exercises " + strings.Join(before[:len(before)-1], ", ") + " and " + before[len(before)-1] + " done first"
}

// Generate writes exercises/stageN and solutions/stageN of root for every
// generated stage, replacing what was there.
func Generate(root string) error { return GenerateTo(root, root) }

// GenerateTo reads the stages of root and writes the trees under out.
func GenerateTo(root, out string) error {
	for _, n := range Stages {
		if err := generateStage(root, out, n); err != nil {
			return fmt.Errorf("stage %d: %w", n, err)
		}
	}
	return nil
}

// StageRegions loads stage n's manifest and regions and checks that they
// match: every exercise has a region, in a file it lists, and every region
// belongs to an exercise.
func StageRegions(root string, n int) (*lesson.Stage, []Region, error) {
	s, err := lesson.Load(root, n)
	if err != nil {
		return nil, nil, err
	}
	dir := repo.StageDir(root, n)
	var regions []Region
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rs, err := Parse(filepath.ToSlash(rel), src)
		regions = append(regions, rs...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	has := map[string]bool{}
	for _, r := range regions {
		i := slices.IndexFunc(s.Exercises, func(e lesson.Exercise) bool { return e.ID == r.ID })
		if i < 0 {
			return nil, nil, fmt.Errorf("%s:%d: no exercise %s in the manifest", r.File, r.Line, r.ID)
		}
		if !slices.Contains(s.Exercises[i].Files, r.File) {
			return nil, nil, fmt.Errorf("%s:%d: exercise %s's files %v do not list %s", r.File, r.Line, r.ID, s.Exercises[i].Files, r.File)
		}
		has[r.ID] = true
	}
	for _, e := range s.Exercises {
		if !has[e.ID] {
			return nil, nil, fmt.Errorf("exercise %s has no marked region in %v", e.ID, e.Files)
		}
	}
	return s, regions, nil
}

func generateStage(root, out string, n int) error {
	s, regions, err := StageRegions(root, n)
	if err != nil {
		return err
	}
	exDir := repo.ExerciseDir(out, n)
	solDir := filepath.Join(out, "solutions", "stage"+strconv.Itoa(n))
	for _, d := range []string{exDir, solDir} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := starter(root, s, exDir, func(string) bool { return true }); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(exDir, "README.md"), []byte(readme(s)), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(solDir, 0o755); err != nil {
		return err
	}
	for _, e := range s.Exercises {
		page := solution(s, e, regions)
		if err := os.WriteFile(filepath.Join(solDir, e.ID+".md"), []byte(page), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Starter writes to out (which must not exist or be empty) stage n's
// exercise module with only the exercises undone listed stubbed and the
// others finished: the tree of a learner who has done all but those.
func Starter(root string, n int, out string, undone ...string) error {
	s, _, err := StageRegions(root, n)
	if err != nil {
		return err
	}
	for _, id := range undone {
		if !slices.ContainsFunc(s.Exercises, func(e lesson.Exercise) bool { return e.ID == id }) {
			return fmt.Errorf("stage %d has no exercise %s", n, id)
		}
	}
	return starter(root, s, out, func(id string) bool { return slices.Contains(undone, id) })
}

func starter(root string, s *lesson.Stage, out string, undone func(id string) bool) error {
	return copyAsExercise(root, s.Number, out, func(p string, b []byte) ([]byte, error) {
		return pruneImports(p, stubSome(b, s, undone))
	})
}

// copyAsExercise copies stage n's module of root to exDir (which must not
// exist or be empty) under the exercise module path, passing each Go file's
// text, its imports already rewritten, through fix.
func copyAsExercise(root string, n int, exDir string, fix func(p string, b []byte) ([]byte, error)) error {
	if err := files.CopyModule(repo.StageDir(root, n), exDir, true); err != nil {
		return err
	}
	stagePath := "github.com/go-o11y-workshop/kit/stages/stage" + strconv.Itoa(n)
	exPath := "github.com/go-o11y-workshop/kit/exercises/stage" + strconv.Itoa(n)
	return filepath.WalkDir(exDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case d.Name() == "go.mod":
			return rewrite(p, func(b []byte) ([]byte, error) {
				return bytes.Replace(b, []byte("module "+stagePath+"\n"), []byte("module "+exPath+"\n"), 1), nil
			})
		case strings.HasSuffix(d.Name(), ".go"):
			return rewrite(p, func(b []byte) ([]byte, error) {
				b = bytes.ReplaceAll(b, []byte(`"`+stagePath+`/`), []byte(`"`+exPath+`/`))
				return fix(p, b)
			})
		}
		return nil
	})
}

// Finished writes to out (which must not exist or be empty) stage n's
// exercise module with every exercise done: the reference code of
// stages/stageN under the exercise module path, without the region markers,
// and the README the starter has (where each exercise is, how to test it).
func Finished(root string, n int, out string) error {
	s, err := lesson.Load(root, n)
	if err != nil {
		return err
	}
	if err := copyAsExercise(root, n, out, func(p string, b []byte) ([]byte, error) {
		return format.Source([]byte(StripMarkers(string(b))))
	}); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "README.md"), []byte(readme(s)), 0o644)
}

func rewrite(p string, f func([]byte) ([]byte, error)) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	nb, err := f(b)
	if err != nil || bytes.Equal(b, nb) {
		return err
	}
	return os.WriteFile(p, nb, 0o644)
}

// pruneImports drops the imports a stubbed file no longer uses and formats it.
func pruneImports(name string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("stubbed file does not parse: %w", err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(node ast.Node) bool {
		if sel, ok := node.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	drop := map[int]bool{}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		name := importName(p)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		if name == "_" || name == "." || used[name] {
			continue
		}
		start, end := fset.Position(spec.Pos()).Line, fset.Position(spec.End()).Line
		if start != end || spec.Doc != nil || spec.Comment != nil {
			return nil, fmt.Errorf("%s: cannot drop the unused import %s", name, p)
		}
		drop[start] = true
	}
	if len(drop) > 0 {
		var keep []string
		for i, line := range strings.Split(string(src), "\n") {
			if !drop[i+1] {
				keep = append(keep, line)
			}
		}
		src = []byte(strings.Join(keep, "\n"))
	}
	return format.Source(src)
}

// importName guesses a package's name from its path: the last element, or
// the one before a major version suffix.
func importName(p string) string {
	base := path.Base(p)
	if regexp.MustCompile(`^v[0-9]+$`).MatchString(base) {
		base = path.Base(path.Dir(p))
	}
	return strings.TrimPrefix(base, "go-")
}

// TestCommand is the go test command, run in the exercise module, that runs
// exactly the tests e's work makes pass.
func TestCommand(e lesson.Exercise) string {
	return fmt.Sprintf("go test -run '%s' %s", TestPattern(e.Tests), strings.Join(TestPackages(e.Tests), " "))
}

// TestPattern is the -run pattern that matches the functions of tests
// ("pkg/TestName") by their whole names.
func TestPattern(tests []string) string {
	var names []string
	for _, t := range tests {
		names = append(names, regexp.QuoteMeta(t[strings.LastIndex(t, "/")+1:]))
	}
	slices.Sort(names)
	return "^(" + strings.Join(slices.Compact(names), "|") + ")$"
}

// TestPackages are the folders ("./pkg/") of tests ("pkg/TestName"), in
// order of first appearance.
func TestPackages(tests []string) []string {
	var pkgs []string
	for _, t := range tests {
		if pkg := "./" + t[:strings.LastIndex(t, "/")+1]; !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	return pkgs
}

// stepRef is lesson.StepRef with the command as markdown code.
func stepRef(id string) string {
	stage, num, _ := strings.Cut(id, ".")
	return fmt.Sprintf("step %s (`workshop show %s %s`)", id, stage, num)
}

// readme is the exercise module's README: where to write, and how to know
// each exercise is done.
func readme(s *lesson.Stage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Stage %d, your starting point: %s\n\n", s.Number, s.Title)
	fmt.Fprintf(&b, "<!-- generated from stages/stage%d by `workshop gen`; do not edit -->\n\n", s.Number)
	fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Summary))
	b.WriteString("This module is the finished previous stage plus the new code of this one, with the\n" +
		"instrumentation you write left as `// TODO (exercise N.M)` between `// exercise N.M: begin`\n" +
		"and `// exercise N.M: end` lines. It builds as it is; its tests fail until you do the work.\n\n")
	fmt.Fprintf(&b, "Read the lesson with `workshop show %d`, run your stage with `workshop up %d --exercise`,\n"+
		"and check it end to end with `workshop check %d`. Stuck: `workshop hint N.M`.\n", s.Number, s.Number, s.Number)
	for _, e := range s.Exercises {
		fmt.Fprintf(&b, "\n## Exercise %s: %s\n\n", e.ID, e.Title)
		fmt.Fprintf(&b, "Taught in %s; write it in %s. Hints: `workshop hint %s`.\n\n", stepRef(e.Step), "`"+strings.Join(e.Files, "`, `")+"`", e.ID)
		done := "Done when these tests pass (run here)"
		if note := PriorNote(s, e.ID); note != "" {
			done += ", " + note
		}
		fmt.Fprintf(&b, "%s:\n\n```sh\n%s\n```\n", done, TestCommand(e))
	}
	b.WriteString("\nAll at once: `go test ./...`.\n")
	return b.String()
}

// solution is the page of one exercise: its goal, the reference code of its
// regions file by file, and its hints.
func solution(s *lesson.Stage, e lesson.Exercise, regions []Region) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Exercise %s: %s\n\n", e.ID, e.Title)
	fmt.Fprintf(&b, "<!-- generated from stages/stage%d by `workshop gen`; do not edit -->\n\n", s.Number)
	fmt.Fprintf(&b, "Taught in %s.\n\n", stepRef(e.Step))
	if g := strings.TrimSpace(e.Goal); g != "" {
		fmt.Fprintf(&b, "## Goal\n\n%s\n\n", g)
	}
	b.WriteString("## Solution\n")
	for _, file := range e.Files {
		var parts []string
		for _, r := range regions {
			if r.ID != e.ID || r.File != file {
				continue
			}
			var lines []string
			for _, l := range r.Body {
				lines = append(lines, strings.TrimRight(strings.TrimPrefix(l, r.Indent), " \t"))
			}
			parts = append(parts, strings.Join(lines, "\n"))
		}
		if len(parts) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nIn `%s`:\n\n```go\n%s\n```\n", file, strings.Join(parts, "\n\n// ...\n\n"))
	}
	if len(e.Tests) > 0 {
		where := fmt.Sprintf("In `exercises/stage%d`", s.Number)
		if note := PriorNote(s, e.ID); note != "" {
			where += ", " + note
		}
		fmt.Fprintf(&b, "\n## Check it\n\n%s:\n\n```sh\n%s\n```\n", where, TestCommand(e))
	}
	if len(e.Hints) > 0 {
		b.WriteString("\n## Hints\n\n")
		for i, h := range e.Hints {
			fmt.Fprintf(&b, "%d. %s\n", i+1, strings.TrimSpace(h))
		}
	}
	return b.String()
}
