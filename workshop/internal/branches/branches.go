// Package branches writes the workshop as git branches: stage-N, the
// finished code of stage N, and exercise-N, the learner's starting point of
// stage N, each one Go module at the root of its tree. Every stage's diff is
// then browsable on any git host, and a room can `git checkout stage-3`.
//
// The branches are made with git plumbing from the tree of one commit, never
// from the work tree or the index, and they are reproducible: the same
// content gives the same tree and commit hashes in any clone, on any day.
// stage-N's parent is stage-(N-1) and exercise-N's is stage-(N-1) too (a
// starter is the finished previous stage plus the new stage's scaffolding),
// so `git diff stage-2 stage-3` is what stage 3 adds and `git diff
// exercise-3 stage-3` is its solution.
package branches

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// ModulePath is the module path of every branch: one path for all of them,
// so that `git diff stage-1 stage-2` shows code, not renamed imports.
const ModulePath = "github.com/go-o11y-workshop/dice"

// The fixed identity and date of every commit, so that a commit's hash
// depends on its content only.
const (
	authorName  = "Go observability workshop kit"
	authorEmail = "workshop@go-o11y-workshop.invalid"
	commitDate  = "1767225600 +0000" // 2026-01-01T00:00:00Z in git's internal format
)

// State is what writing a plan does to one branch.
type State string

// The states of a branch.
const (
	Created   State = "created"
	Updated   State = "updated"
	Unchanged State = "unchanged"
)

// Branch is one branch as the source commit makes it.
type Branch struct {
	Name   string // "stage-3", "exercise-3"
	Commit string // the commit the branch is to point at
	Short  string // Commit, abbreviated
	Parent string // Commit's parent, "" for a root commit
	Old    string // where the branch points now, "" when it does not exist
	Files  int    // the files in its tree
}

// State says whether writing the branch creates, moves or leaves it.
func (b Branch) State() State {
	switch b.Old {
	case "":
		return Created
	case b.Commit:
		return Unchanged
	default:
		return Updated
	}
}

// Plan is the branches made from one commit: their commits are in the
// repository's object store, no branch is written yet.
type Plan struct {
	From     string   // the revision as given
	Commit   string   // the commit it names, whose tree the branches are made of
	Short    string   // Commit, abbreviated
	Branches []Branch // stage-1…stage-N, then exercise-1…exercise-N

	g          git
	checkedOut map[string]string // refs/heads/… → the worktree it is checked out in
}

// Names are the branches a plan writes, in order.
func Names() []string {
	var out []string
	for n := 1; n <= repo.Stages; n++ {
		out = append(out, stageBranch(n))
	}
	for n := 1; n <= repo.Stages; n++ {
		out = append(out, exerciseBranch(n))
	}
	return out
}

func stageBranch(n int) string    { return "stage-" + strconv.Itoa(n) }
func exerciseBranch(n int) string { return "exercise-" + strconv.Itoa(n) }

// Build makes the branches' commits from the stages/ and exercises/ folders
// of revision from in the repository holding dir (the workshop checkout),
// and compares them with the branches as they are. It writes objects, never
// refs, the index or the work tree.
func Build(ctx context.Context, dir, from string) (*Plan, error) {
	g := git{dir: dir}
	if _, err := g.line(ctx, "rev-parse", "--git-dir"); err != nil {
		if errors.Is(err, errNoGit) {
			return nil, err
		}
		return nil, fmt.Errorf("%s is not in a git repository: workshop branches reads stages/ from a commit, so it needs a git clone of the kit", dir)
	}
	commit, err := g.line(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", from+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("no commit %q in this repository (--from takes a commit, branch or tag)", from)
	}
	src, err := readSource(ctx, g, commit)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", from, commit[:min(len(commit), 12)], err)
	}
	trees, err := layout(src)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", from, commit[:min(len(commit), 12)], err)
	}
	p := &Plan{From: from, Commit: commit, g: g}
	if err := p.commit(ctx, trees); err != nil {
		return nil, err
	}
	if err := p.compare(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Blocked reports a branch the plan would move that is checked out in a
// worktree of the repository (this one or another): moving it would leave
// that worktree's files and index out of step with its branch.
func (p *Plan) Blocked() error {
	for _, b := range p.Branches {
		if b.State() == Unchanged {
			continue
		}
		if wt, ok := p.checkedOut["refs/heads/"+b.Name]; ok {
			return fmt.Errorf("%s is checked out in %s; switch that worktree to another branch first", b.Name, wt)
		}
	}
	return nil
}

// Write points the branches at their commits, all of them or, when one
// cannot be moved, none: a branch is only moved from where Build saw it.
func (p *Plan) Write(ctx context.Context) error {
	if err := p.Blocked(); err != nil {
		return err
	}
	var in strings.Builder
	for _, b := range p.Branches {
		switch b.State() {
		case Created:
			fmt.Fprintf(&in, "create refs/heads/%s %s\n", b.Name, b.Commit)
		case Updated:
			fmt.Fprintf(&in, "update refs/heads/%s %s %s\n", b.Name, b.Commit, b.Old)
		}
	}
	if in.Len() == 0 {
		return nil
	}
	// One update-ref --stdin is one transaction: every ref or none.
	_, err := p.g.run(ctx, gitRequest{
		args:  []string{"update-ref", "-m", "workshop branches --from " + p.From, "--stdin"},
		stdin: []byte(in.String()),
	})
	return err
}

// entry is one file of a tree: its mode, its blob, its path in the tree and,
// for a regular file, its content. A file whose content was rewritten has no
// oid until it is hashed.
type entry struct {
	mode, oid, path string
	data            []byte
}

func (e entry) regular() bool { return e.mode == "100644" || e.mode == "100755" }

// source is what Build reads of the source commit: the files of
// stages/stageN and exercises/stageN, by N, with paths relative to them, and
// the content of their regular files.
type source struct {
	stages, exercises map[int][]entry
	blobs             map[string][]byte
}

func readSource(ctx context.Context, g git, commit string) (*source, error) {
	out, err := g.run(ctx, gitRequest{args: []string{"ls-tree", "-r", "-z", commit, "--", "stages", "exercises"}})
	if err != nil {
		return nil, err
	}
	src := &source{stages: map[int][]entry{}, exercises: map[int][]entry{}}
	var oids []string
	for rec := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		meta, p, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("git ls-tree: unexpected line %q", rec)
		}
		e := entry{mode: f[0], oid: f[2], path: p}
		top, rest, _ := strings.Cut(p, "/")
		folder, rel, ok := strings.Cut(rest, "/")
		n, err := strconv.Atoi(strings.TrimPrefix(folder, "stage"))
		if !ok || !strings.HasPrefix(folder, "stage") || err != nil || n < 1 || n > repo.Stages {
			continue
		}
		e.path = rel
		if top == "stages" {
			src.stages[n] = append(src.stages[n], e)
		} else {
			src.exercises[n] = append(src.exercises[n], e)
		}
		if f[1] == "blob" && e.regular() {
			oids = append(oids, e.oid)
		}
	}
	for n := 1; n <= repo.Stages; n++ {
		if len(src.stages[n]) == 0 {
			return nil, fmt.Errorf("no stages/stage%d in this commit; workshop branches needs stages/stage1…stage%d and exercises/stage1…stage%d", n, repo.Stages, repo.Stages)
		}
		if len(src.exercises[n]) == 0 {
			return nil, fmt.Errorf("no exercises/stage%d in this commit (the kit makes it with `workshop gen`)", n)
		}
	}
	src.blobs, err = g.blobs(ctx, oids)
	return src, err
}

// tree is one branch to be made: its files, its commit message and its
// parent, the index of an earlier tree (-1: a root commit).
type tree struct {
	name    string
	files   []entry
	message string
	parent  int
}

// layout turns the source into the branches' trees, the stages first.
func layout(src *source) ([]tree, error) {
	var stages, exercises []tree
	for n := 1; n <= repo.Stages; n++ {
		files := rewrite(src, src.stages[n], "github.com/go-o11y-workshop/kit/stages/stage"+strconv.Itoa(n), true)
		s, err := manifest(n, files)
		if err != nil {
			return nil, err
		}
		var lessonFiles []entry
		for _, e := range files {
			if strings.HasPrefix(e.path, "lesson/") {
				lessonFiles = append(lessonFiles, e)
			}
		}
		stages = append(stages, tree{
			name:    stageBranch(n),
			files:   withReadme(files, stageReadme(s, files)),
			message: stageMessage(s),
			parent:  n - 2,
		})

		files = rewrite(src, src.exercises[n], "github.com/go-o11y-workshop/kit/exercises/stage"+strconv.Itoa(n), false)
		files = slices.DeleteFunc(files, func(e entry) bool { return strings.HasPrefix(e.path, "lesson/") })
		files = append(files, lessonFiles...)
		exercises = append(exercises, tree{
			name:    exerciseBranch(n),
			files:   withReadme(files, exerciseReadme(s, files)),
			message: exerciseMessage(s),
			parent:  n - 2,
		})
	}
	return append(stages, exercises...), nil
}

// rewrite gives a module's files their branch content: the module path
// modPath becomes ModulePath in every text file, and, with strip, the
// exercise markers leave the Go files.
func rewrite(src *source, files []entry, modPath string, strip bool) []entry {
	// \b: stages/stage1 must not match the start of a stages/stage10.
	re := regexp.MustCompile(regexp.QuoteMeta(modPath) + `\b`)
	out := make([]entry, 0, len(files))
	for _, e := range files {
		b, ok := src.blobs[e.oid]
		if !e.regular() || !ok || bytes.IndexByte(b, 0) >= 0 {
			e.data = b
			out = append(out, e)
			continue
		}
		nb := re.ReplaceAllLiteral(b, []byte(ModulePath))
		if strip && strings.HasSuffix(e.path, ".go") {
			// Whole lines go, so the file stays gofmt-clean; not running
			// gofmt keeps the hashes independent of the Go version.
			nb = []byte(exercise.StripMarkers(string(nb)))
		}
		e.data = nb
		if !bytes.Equal(b, nb) {
			e.oid = "" // to be hashed
		}
		out = append(out, e)
	}
	return out
}

// withReadme puts the generated README.md at the root of a tree, in place
// of one the module may have.
func withReadme(files []entry, readme string) []entry {
	out := slices.DeleteFunc(slices.Clone(files), func(e entry) bool { return e.path == "README.md" })
	return append(out, entry{mode: "100644", path: "README.md", data: []byte(readme)})
}

// manifest reads stage n's lesson manifest from its files in the commit,
// not from the work tree.
func manifest(n int, files []entry) (*lesson.Stage, error) {
	i := slices.IndexFunc(files, func(e entry) bool { return e.path == "lesson/lesson.toml" })
	if i < 0 {
		return nil, fmt.Errorf("no stages/stage%d/lesson/lesson.toml in this commit", n)
	}
	return lesson.Parse(files[i].data, n, "stages/stage"+strconv.Itoa(n)+"/lesson/lesson.toml")
}

// commit hashes the rewritten files, writes each tree through a temporary
// index of its own and commits it with the fixed identity.
func (p *Plan) commit(ctx context.Context, trees []tree) error {
	tmp, err := os.MkdirTemp("", "workshop-branches-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := p.hashFiles(ctx, tmp, trees); err != nil {
		return err
	}
	env := []string{
		"GIT_AUTHOR_NAME=" + authorName, "GIT_AUTHOR_EMAIL=" + authorEmail, "GIT_AUTHOR_DATE=" + commitDate,
		"GIT_COMMITTER_NAME=" + authorName, "GIT_COMMITTER_EMAIL=" + authorEmail, "GIT_COMMITTER_DATE=" + commitDate,
	}
	for _, t := range trees {
		index := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index-"+t.name)}
		var in bytes.Buffer
		for _, e := range t.files {
			fmt.Fprintf(&in, "%s %s\t%s\x00", e.mode, e.oid, e.path)
		}
		if _, err := p.g.run(ctx, gitRequest{args: []string{"update-index", "-z", "--index-info"}, stdin: in.Bytes(), env: index}); err != nil {
			return err
		}
		out, err := p.g.run(ctx, gitRequest{args: []string{"write-tree"}, env: index})
		if err != nil {
			return err
		}
		b := Branch{Name: t.name, Files: len(t.files)}
		args := []string{"-c", "i18n.commitEncoding=UTF-8", "commit-tree", "--no-gpg-sign", strings.TrimSpace(string(out))}
		if t.parent >= 0 {
			b.Parent = p.Branches[t.parent].Commit
			args = append(args, "-p", b.Parent)
		}
		out, err = p.g.run(ctx, gitRequest{args: append(args, "-F", "-"), stdin: []byte(t.message), env: env})
		if err != nil {
			return err
		}
		b.Commit = strings.TrimSpace(string(out))
		p.Branches = append(p.Branches, b)
	}
	return nil
}

// hashFiles writes the rewritten files' blobs, all in one git hash-object,
// and sets their oids.
func (p *Plan) hashFiles(ctx context.Context, tmp string, trees []tree) error {
	var paths []string
	index := map[string]int{} // content → its place in paths
	for _, t := range trees {
		for _, e := range t.files {
			if e.oid != "" {
				continue
			}
			if _, ok := index[string(e.data)]; ok {
				continue
			}
			f := filepath.Join(tmp, "blob-"+strconv.Itoa(len(paths)))
			if err := os.WriteFile(f, e.data, 0o600); err != nil {
				return err
			}
			index[string(e.data)] = len(paths)
			paths = append(paths, f)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	// --no-filters: the bytes as they are, whatever the attributes or
	// core.autocrlf of this clone say, or the hashes would differ by clone.
	out, err := p.g.run(ctx, gitRequest{
		args:  []string{"hash-object", "-w", "--no-filters", "--stdin-paths"},
		stdin: []byte(strings.Join(paths, "\n") + "\n"),
	})
	if err != nil {
		return err
	}
	oids := strings.Fields(string(out))
	if len(oids) != len(paths) {
		return fmt.Errorf("git hash-object: %d hashes for %d files", len(oids), len(paths))
	}
	for _, t := range trees {
		for i, e := range t.files {
			if e.oid == "" {
				t.files[i].oid = oids[index[string(e.data)]]
			}
		}
	}
	return nil
}

// compare reads where the branches point now, the worktrees that have them
// checked out, and the abbreviated hashes to show.
func (p *Plan) compare(ctx context.Context) error {
	out, err := p.g.run(ctx, gitRequest{args: []string{"for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"}})
	if err != nil {
		return err
	}
	refs := map[string]string{}
	for l := range strings.Lines(string(out)) {
		if ref, oid, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			refs[ref] = oid
		}
	}
	for i := range p.Branches {
		p.Branches[i].Old = refs["refs/heads/"+p.Branches[i].Name]
	}

	out, err = p.g.run(ctx, gitRequest{args: []string{"worktree", "list", "--porcelain"}})
	if err != nil {
		return err
	}
	p.checkedOut = map[string]string{}
	var wt string
	for l := range strings.Lines(string(out)) {
		l = strings.TrimSuffix(l, "\n")
		if v, ok := strings.CutPrefix(l, "worktree "); ok {
			wt = v
		}
		if v, ok := strings.CutPrefix(l, "branch "); ok {
			p.checkedOut[v] = wt
		}
	}

	// One git log abbreviates them all, each as short as this repository
	// allows; --no-walk: the commits themselves, not their history.
	args := []string{"log", "--no-walk=unsorted", "--format=%H %h", p.Commit}
	for _, b := range p.Branches {
		args = append(args, b.Commit)
	}
	out, err = p.g.run(ctx, gitRequest{args: args})
	if err != nil {
		return err
	}
	short := map[string]string{}
	for l := range strings.Lines(string(out)) {
		if full, abbrev, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			short[full] = abbrev
		}
	}
	p.Short = short[p.Commit]
	for i := range p.Branches {
		p.Branches[i].Short = short[p.Branches[i].Commit]
	}
	return nil
}

// blobs reads the content of blobs, all in one git cat-file --batch.
func (g git) blobs(ctx context.Context, oids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(oids) == 0 {
		return out, nil
	}
	b, err := g.run(ctx, gitRequest{args: []string{"cat-file", "--batch", "--buffer"}, stdin: []byte(strings.Join(oids, "\n") + "\n")})
	if err != nil {
		return nil, err
	}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("git cat-file: output ends in the middle of a header")
		}
		f := strings.Fields(string(b[:nl]))
		if len(f) != 3 {
			return nil, fmt.Errorf("git cat-file: %s", b[:nl])
		}
		size, err := strconv.Atoi(f[2])
		start, end := nl+1, nl+1+size
		if err != nil || end >= len(b) {
			return nil, fmt.Errorf("git cat-file: bad header %q", b[:nl])
		}
		out[f[0]] = b[start:end]
		b = b[end+1:]
	}
	return out, nil
}

// services are the folders of a module that hold a main.go: the commands
// `go run ./NAME` starts.
func services(files []entry) []string {
	var out []string
	for _, e := range files {
		if dir, base := path.Split(e.path); base == "main.go" && strings.Count(dir, "/") == 1 {
			out = append(out, strings.TrimSuffix(dir, "/"))
		}
	}
	slices.Sort(out)
	return out
}
