package exercise

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// lessonFile is one markdown file of a stage's lesson.
type lessonFile struct {
	name  string
	lines []string
}

func lessonFiles(t *testing.T, root string, n int) []lessonFile {
	t.Helper()
	dir := filepath.Join(repo.StageDir(root, n), "lesson")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []lessonFile
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, lessonFile{e.Name(), strings.Split(string(b), "\n")})
	}
	return out
}

// trivialLine is a line of a region that gives nothing away (convention 5 of
// the round): a comment, punctuation or brackets only, or a bare return.
func trivialLine(line string) bool {
	l := strings.TrimSpace(line)
	switch l {
	case "", "return", "return nil", "return err", "default:", "} else {":
		return true
	}
	if strings.HasPrefix(l, "//") {
		return true
	}
	return !strings.ContainsFunc(l, func(r rune) bool { return !unicode.IsPunct(r) && !unicode.IsSymbol(r) && !unicode.IsSpace(r) })
}

// verbatimLine is a line of an exercise region that a lesson prints.
type verbatimLine struct {
	stage  int
	region Region
	line   string
	lesson string // the lesson file that prints it
}

// TestLessonsDoNotPrintTheAnswer measures how much of the code a learner
// is asked to write the lessons print as it is: the share of non-trivial
// lines of the exercise regions that appear verbatim in a line of the
// stage's lesson. A lesson may show code on another example, and reading
// steps may show the stage's code; an exercise is transcription when its
// answer is in the lesson. The kit's share must stay at most 25 %.
func TestLessonsDoNotPrintTheAnswer(t *testing.T) {
	const limit = 0.25
	r := root(t)
	var kitLines, kitVerbatim int
	var worst []verbatimLine
	for _, n := range Stages {
		_, regions, err := StageRegions(r, n)
		require.NoError(t, err)
		files := lessonFiles(t, r, n)
		lines, verbatim := 0, 0
		for _, reg := range regions {
			for _, l := range reg.Body {
				if trivialLine(l) {
					continue
				}
				lines++
				code := strings.TrimSpace(l)
				for _, f := range files {
					if slices.ContainsFunc(f.lines, func(ml string) bool { return strings.Contains(strings.TrimSpace(ml), code) }) {
						verbatim++
						worst = append(worst, verbatimLine{n, reg, code, f.name})
						break
					}
				}
			}
		}
		kitLines += lines
		kitVerbatim += verbatim
		t.Logf("stage %d: %d of %d non-trivial exercise lines appear verbatim in the lesson (%s)", n, verbatim, lines, percent(verbatim, lines))
	}
	share := float64(kitVerbatim) / float64(max(kitLines, 1))
	t.Logf("the kit: %d of %d (%s); the goal is at most %.0f %%", kitVerbatim, kitLines, percent(kitVerbatim, kitLines), limit*100)
	if share <= limit {
		return
	}
	// The longest lines give away the most.
	slices.SortFunc(worst, func(a, b verbatimLine) int { return cmp.Compare(len(b.line), len(a.line)) })
	var b strings.Builder
	for _, w := range worst[:min(len(worst), 20)] {
		fmt.Fprintf(&b, "\n  stage %d, exercise %s (%s), printed by %s: %s", w.stage, w.region.ID, w.region.File, w.lesson, w.line)
	}
	t.Errorf("the lessons print %s of the code the exercises ask for (at most %.0f %%); the longest such lines:%s",
		percent(kitVerbatim, kitLines), limit*100, b.String())
}

func percent(a, b int) string {
	if b == 0 {
		return "0 %"
	}
	return fmt.Sprintf("%.0f %%", 100*float64(a)/float64(b))
}

// TestLessonsAreTrueAgainstTheStarter: what a lesson says about the
// learner's starting point holds. Every name of the stage's code it quotes
// in backticks exists in exercises/stageN (files, and functions, methods,
// types and fields, told from other packages' API by what the stage itself
// declares and imports), every `TODO (exercise N.M)` it points to is in the
// starter, and every workshop command it quotes names a real stage, step,
// exercise or break.
func TestLessonsAreTrueAgainstTheStarter(t *testing.T) {
	r := root(t)
	for _, n := range Stages {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			s, err := lesson.Load(r, n)
			require.NoError(t, err)
			ref := declarations(t, repo.StageDir(r, n))
			starter := declarations(t, repo.ExerciseDir(r, n))
			files := lessonFiles(t, r, n)
			// The manifest's words are the lesson's too: goals and hints.
			for _, e := range s.Exercises {
				files = append(files, lessonFile{"lesson.toml, goal of exercise " + e.ID, strings.Split(e.Goal, "\n")})
				for i, h := range e.Hints {
					files = append(files, lessonFile{fmt.Sprintf("lesson.toml, hint %d of exercise %s", i+1, e.ID), strings.Split(h, "\n")})
				}
			}
			for _, f := range files {
				for _, problem := range lessonProblems(r, n, s, f, ref, starter) {
					t.Errorf("stage %d, %s: %s", n, f.name, problem)
				}
			}
		})
	}
}

// decls is what a stage module declares, imports and spells out.
type decls struct {
	all      map[string]bool            // every declared name, locals included
	api      map[string]bool            // functions, methods, types, fields, package-level vars and consts
	types    map[string]bool            // its type names
	pkgAPI   map[string]map[string]bool // the api of each of the module's packages, by package name
	imports  map[string]string          // the package names (or aliases) its files import → path
	literals map[string]bool            // its string literals' values
	files    map[string]bool            // its files and folders, slash-separated, and their base names
	text     string                     // all its Go source, for TODO references
}

func declarations(t *testing.T, dir string) *decls {
	t.Helper()
	d := &decls{all: map[string]bool{}, api: map[string]bool{}, types: map[string]bool{}, pkgAPI: map[string]map[string]bool{},
		imports: map[string]string{}, literals: map[string]bool{}, files: map[string]bool{}}
	var text strings.Builder
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		d.files[rel], d.files[e.Name()] = true, true
		if e.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text.Write(src)
		f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		d.add(f)
		return nil
	})
	require.NoError(t, err)
	d.text = text.String()
	return d
}

func (d *decls) add(f *ast.File) {
	pkg := d.pkgAPI[f.Name.Name]
	if pkg == nil {
		pkg = map[string]bool{}
		d.pkgAPI[f.Name.Name] = pkg
	}
	api := func(id *ast.Ident) {
		d.api[id.Name], d.all[id.Name], pkg[id.Name] = true, true, true
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := importName(path)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		d.imports[name] = path
	}
	for _, decl := range f.Decls {
		if g, ok := decl.(*ast.GenDecl); ok {
			for _, spec := range g.Specs {
				if v, ok := spec.(*ast.ValueSpec); ok {
					for _, id := range v.Names {
						api(id)
					}
				}
			}
		}
	}
	ast.Inspect(f, func(node ast.Node) bool {
		switch n := node.(type) {
		case *ast.FuncDecl:
			api(n.Name)
		case *ast.TypeSpec:
			api(n.Name)
			d.types[n.Name.Name] = true
			switch tt := n.Type.(type) {
			case *ast.StructType:
				for _, field := range tt.Fields.List {
					for _, id := range field.Names {
						api(id)
					}
				}
			case *ast.InterfaceType:
				for _, m := range tt.Methods.List {
					for _, id := range m.Names {
						api(id)
					}
				}
			}
		case *ast.Field:
			for _, id := range n.Names {
				d.all[id.Name] = true
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				d.all[id.Name] = true
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, e := range n.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						d.all[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok && n.Tok == token.DEFINE {
					d.all[id.Name] = true
				}
			}
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if v, err := strconv.Unquote(n.Value); err == nil {
					d.literals[v] = true
				}
			}
		}
		return true
	})
}

var (
	codeSpan    = regexp.MustCompile("`([^`]+)`")
	todoRef     = regexp.MustCompile(`TODO \(exercise (\d+\.\d+)\)`)
	command     = regexp.MustCompile(`workshop (show|hint|solution|up|check|diff|reset|catchup|traffic|bench)((?: +[^\s` + "`" + `|;&)]+)*)`)
	codeName    = regexp.MustCompile(`^[*&]?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\(.*\))?$`)
	fileLike    = regexp.MustCompile(`^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?$`)
	extensions  = []string{".go", ".md", ".toml", ".json", ".yaml", ".yml", ".html", ".css", ".js", ".mod", ".sum"}
	predeclared = strings.Fields("bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr any comparable " +
		"true false iota nil append cap clear close complex copy delete imag len make max min new panic print println real recover")
)

// lessonProblems lists what a lesson file says about the starter that does
// not hold.
func lessonProblems(root string, n int, s *lesson.Stage, f lessonFile, ref, starter *decls) []string {
	var problems []string
	inCode := false
	for i, line := range f.lines {
		where := fmt.Sprintf("line %d", i+1)
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inCode = !inCode
		}
		for _, m := range todoRef.FindAllStringSubmatch(line, -1) {
			if _, err := s.Exercise(m[1]); err != nil {
				problems = append(problems, fmt.Sprintf("%s: TODO (exercise %s): %v", where, m[1], err))
			} else if !strings.Contains(starter.text, m[0]) {
				problems = append(problems, fmt.Sprintf("%s: the starter has no %s", where, m[0]))
			}
		}
		for _, m := range command.FindAllStringSubmatch(line, -1) {
			if p := commandProblem(root, n, m[1], strings.Fields(m[2])); p != "" {
				problems = append(problems, fmt.Sprintf("%s: `%s`: %s", where, strings.TrimSpace(m[0]), p))
			}
		}
		if inCode {
			continue // code blocks show other examples; their names are the lesson's own
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			if p := nameProblem(m[1], ref, starter); p != "" {
				problems = append(problems, fmt.Sprintf("%s: `%s`: %s", where, m[1], p))
			}
		}
	}
	return problems
}

// commandProblem checks a quoted workshop command against the kit.
func commandProblem(root string, n int, verb string, args []string) string {
	var positional []string
	brk := ""
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--break" && i+1 < len(args):
			brk = args[i+1]
			i++
		case strings.HasPrefix(args[i], "-"):
		default:
			positional = append(positional, args[i])
		}
	}
	stage := n
	if len(positional) > 0 && verb != "hint" && verb != "solution" {
		if strings.ContainsAny(positional[0], "NM") {
			return "" // a pattern: workshop show N M
		}
		st, err := repo.ParseStage(positional[0])
		if err != nil {
			return err.Error()
		}
		stage = st
	}
	l, err := lesson.Load(root, stage)
	if err != nil {
		return err.Error()
	}
	switch verb {
	case "show":
		if len(positional) > 1 && positional[1] != "overview" {
			if _, err := l.Step(positional[1]); err != nil {
				return err.Error()
			}
		}
	case "hint", "solution":
		if len(positional) == 0 || strings.ContainsAny(positional[0], "NM") {
			return ""
		}
		st, err := lesson.SplitID(positional[0])
		if err != nil {
			return err.Error()
		}
		if l, err = lesson.Load(root, st); err != nil {
			return err.Error()
		}
		if _, err := l.Exercise(positional[0]); err != nil {
			return err.Error()
		}
	}
	if brk != "" && brk != "list" && brk != "NAME" {
		b, err := breaks.Find(brk)
		if err != nil {
			return err.Error()
		}
		if !b.AppliesTo(stage) {
			return fmt.Sprintf("break %s applies to %s, not stage %d", brk, b.StageRange(), stage)
		}
	}
	return ""
}

// nameProblem checks one code span of a lesson's prose: a file of the
// stage, or a name of its code, must exist in the starter, or in the
// reference where an exercise is what writes it (a lesson names what the
// learner is to write: WithAttrs in exercise 1.6).
func nameProblem(span string, ref, starter *decls) string {
	span = strings.TrimSpace(span)
	if strings.HasPrefix(span, "workshop ") || ref.literals[span] || starter.literals[span] {
		return ""
	}
	if first, _, _ := strings.Cut(span, "/"); fileLike.MatchString(span) && strings.Contains(first, ".") && strings.Contains(span, "/") && !strings.HasPrefix(first, ".") {
		return moduleProblem(span, ref, starter)
	}
	if fileLike.MatchString(span) && (strings.Contains(span, "/") || slices.ContainsFunc(extensions, func(e string) bool { return strings.HasSuffix(span, e) })) {
		return fileProblem(span, starter)
	}
	m := codeName.FindStringSubmatch(span)
	if m == nil || strings.Contains(m[1], "_") {
		return "" // not a Go name: a metric, an attribute, a value, a command
	}
	elems := strings.Split(m[1], ".")
	if slices.Contains(predeclared, elems[0]) || token.IsKeyword(elems[0]) {
		return ""
	}
	if path, ok := importPath(elems[0], ref, starter); ok {
		// Another package's API, unless the package is the stage's own; a
		// lower-case member is no Go (an attribute key: service.name).
		if len(elems) > 1 && strings.Contains(path, "/kit/") && unicode.IsUpper(rune(elems[1][0])) && !starter.pkgAPI[elems[0]][elems[1]] {
			return fmt.Sprintf("the starter's package %s declares no %s", elems[0], elems[1])
		}
		return ""
	}
	if len(elems) == 1 {
		name := elems[0]
		switch {
		case camelLower(name) && !starter.all[name] && !ref.all[name]:
			return "the starter declares no " + name
		}
		return ""
	}
	if ref.types[elems[0]] || starter.types[elems[0]] {
		return "" // a type's name before a dot is no field access: an attribute key (server.address)
	}
	if camelLower(elems[0]) && !starter.all[elems[0]] && !ref.all[elems[0]] {
		return "the starter declares no " + elems[0]
	}
	for _, e := range elems[1:] {
		// Another package's types have exported members only: a lower-case
		// member is the stage's own field or method.
		if unicode.IsLower(rune(e[0])) && !starter.api[e] && !ref.api[e] {
			return "the starter declares no field or method " + e
		}
	}
	return ""
}

// camelLower is a lower-case name with an upper-case letter in it
// (rollBatch, lookupCtx): a name of code, not an English word.
func camelLower(name string) bool {
	return unicode.IsLower(rune(name[0])) && strings.ContainsFunc(name, unicode.IsUpper)
}

func importPath(name string, ds ...*decls) (string, bool) {
	for _, d := range ds {
		if p, ok := d.imports[name]; ok {
			return p, true
		}
	}
	return "", false
}

// fileProblem checks a file or folder a lesson names: relative to the
// repository (exercises/stageN/…, stages/…), to the stage module, or a
// base name of one of its files.
func fileProblem(path string, starter *decls) string {
	// A go package pattern (./stages/stage2/...) names the folder.
	p := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(path, "./"), "/..."), "/")
	for _, prefix := range []string{"exercises/stage", "stages/stage", "solutions/stage"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			if _, after, ok := strings.Cut(rest, "/"); ok {
				p = after
			} else {
				return "" // the module itself
			}
		}
	}
	switch p {
	case "stages", "exercises", "solutions", "stack", "workshop":
		return ""
	}
	if starter.files[p] {
		return ""
	}
	for f := range starter.files {
		if strings.HasSuffix(f, "/"+p) { // relative to a service's folder: web/app.js
			return ""
		}
	}
	return "no such file or folder in the starter"
}

// moduleProblem checks an import path a lesson names: the stage (reference
// or starter) imports it or a package under it.
func moduleProblem(path string, ds ...*decls) string {
	for _, d := range ds {
		for _, p := range d.imports {
			if p == path || strings.HasPrefix(p, path+"/") {
				return ""
			}
		}
	}
	return "the stage imports no such package"
}

// TestLessonProblemsAreFound: the checks of TestLessonsAreTrueAgainstTheStarter
// on lines made up for the purpose, against the real stage 4.
func TestLessonProblemsAreFound(t *testing.T) {
	r := root(t)
	s, err := lesson.Load(r, 4)
	require.NoError(t, err)
	ref, starter := declarations(t, repo.StageDir(r, 4)), declarations(t, repo.ExerciseDir(r, 4))
	bad := []string{
		"Write `rollBatches` in `dice-roller/batches.go`.",
		"Read `s.tracers` and call `telemetry.Observed`.",
		"The `errUnknownDice` type.",
		"Find the `TODO (exercise 4.2)` in `handlers.go`.",
		"Run `workshop hint 4.2`, then `workshop show 4 9`, then `workshop up 4 --break no-such-break`.",
		"Compare with `workshop up 1 --break background-context`.",
		"```sh\nworkshop solution 3.9\n```",
	}
	good := []string{
		"Write `rollBatch` in `dice-roller/batch.go` (`exercises/stage4/dice-roller/batch.go`), where the `TODO (exercise 4.1)` is.",
		"Start spans with `s.tracer.Start`, or `tracer.Start(ctx, name)`; `trace.SpanFromContext(ctx)`, `attribute.Int`, `errgroup.Group`.",
		"Attributes `die.type`, `async.batch_size`, `server.address`, `service.name`; metrics `async_rolls_total`; `GET /roll-async`.",
		"`telemetry.Observe`, `*rollFailure`, `handleRollAsync`, `ctx`, `context.Background()`, `web/app.js`, `go.opentelemetry.io/otel/sdk`.",
		"Run `workshop hint 4.1`, `workshop show 4 2`, `workshop show 4 4.2`, `workshop up 4 --break background-context`, `workshop check 4`.",
		"```go\nfunc invented() { notInTheStage.Field = 1 }\n```",
	}
	for _, line := range bad {
		problems := lessonProblems(r, 4, s, lessonFile{"made-up.md", strings.Split(line, "\n")}, ref, starter)
		require.NotEmpty(t, problems, "%q is caught", line)
		t.Log(strings.Join(problems, "\n"))
	}
	require.Len(t, lessonProblems(r, 4, s, lessonFile{"made-up.md", strings.Split(bad[0], "\n")}, ref, starter), 2)
	require.Len(t, lessonProblems(r, 4, s, lessonFile{"made-up.md", strings.Split(bad[4], "\n")}, ref, starter), 3)
	for _, line := range good {
		assert.Empty(t, lessonProblems(r, 4, s, lessonFile{"made-up.md", strings.Split(line, "\n")}, ref, starter), "%q is true", line)
	}
}
