package branches_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/branches"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// fixture is a copy of the kit's stages/ and exercises/ as they are in the
// work tree (tracked and untracked files, not the ignored ones), taken once
// so that every test repository holds the same content even while someone
// edits the kit.
var fixture string

func TestMain(m *testing.M) {
	// The user's git configuration must not change what the tests see.
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	code, err := withFixture(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "branches tests:", err)
		code = 1
	}
	os.Exit(code)
}

func withFixture(m *testing.M) (int, error) {
	root, err := repo.Root(".")
	if err != nil {
		return 0, err
	}
	fixture, err = os.MkdirTemp("", "branches-fixture-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(fixture)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "stages", "exercises").Output()
	if err != nil {
		return 0, fmt.Errorf("listing the kit's stages: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		fi, err := os.Stat(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			return 0, err
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return 0, err
		}
		dst := filepath.Join(fixture, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(fixture, "go.work"), []byte("go 1.26.0\n"), 0o644); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// identity is the source commits' author; date varies it between repositories.
func identity(date string) []string {
	return []string{
		"GIT_AUTHOR_NAME=Kit Maintainer", "GIT_AUTHOR_EMAIL=kit@example.com", "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=Kit Maintainer", "GIT_COMMITTER_EMAIL=kit@example.com", "GIT_COMMITTER_DATE=" + date,
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), identity("1700000000 +0000")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// newRepo makes a git repository holding the fixture, committed on main
// with the given commit date.
func newRepo(t *testing.T, date string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(fixture)))
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", "-A")
	cmd := exec.Command("git", "commit", "-q", "-m", "the kit")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), identity(date)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dir
}

func build(t *testing.T, dir, from string) *branches.Plan {
	t.Helper()
	p, err := branches.Build(context.Background(), dir, from)
	require.NoError(t, err)
	return p
}

func write(t *testing.T, dir string) *branches.Plan {
	t.Helper()
	p := build(t, dir, "HEAD")
	require.NoError(t, p.Write(context.Background()))
	return p
}

func states(p *branches.Plan) map[string]branches.State {
	out := map[string]branches.State{}
	for _, b := range p.Branches {
		out[b.Name] = b.State()
	}
	return out
}

func commits(p *branches.Plan) map[string]string {
	out := map[string]string{}
	for _, b := range p.Branches {
		out[b.Name] = b.Commit
	}
	return out
}

// snapshot is what branches must leave alone in a repository.
func snapshot(t *testing.T, dir string) map[string]string {
	return map[string]string{
		"branch": gitIn(t, dir, "symbolic-ref", "HEAD"),
		"HEAD":   gitIn(t, dir, "rev-parse", "HEAD"),
		"status": gitIn(t, dir, "status", "--porcelain"),
		"index":  gitIn(t, dir, "ls-files", "-s"),
	}
}

func TestBranchesFromTheCommittedStages(t *testing.T) {
	t.Parallel()
	dir := newRepo(t, "1700000000 +0000")
	// Uncommitted edits, in the work tree and in the index, must neither
	// leak into the branches nor be touched.
	edited := filepath.Join(dir, "stages", "stage3", "dice-roller", "main.go")
	require.NoError(t, os.WriteFile(edited, []byte("package main // edited, not committed\n"), 0o644))
	staged := filepath.Join(dir, "stages", "stage2", "go.mod")
	b, err := os.ReadFile(staged)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(staged, append(b, "// staged, not committed\n"...), 0o644))
	gitIn(t, dir, "add", "stages/stage2/go.mod")
	before := snapshot(t, dir)

	dry := build(t, dir, "HEAD")
	assert.Equal(t, branches.Names(), names(dry))
	assert.Equal(t, before["HEAD"], dry.Commit)
	for _, b := range dry.Branches {
		assert.Equal(t, branches.Created, b.State(), b.Name)
		assert.Greater(t, b.Files, 5, b.Name)
	}
	assert.Empty(t, gitIn(t, dir, "for-each-ref", "refs/heads/stage-*", "refs/heads/exercise-*"), "Build alone writes no branch")

	p := write(t, dir)
	assert.Equal(t, commits(dry), commits(p))
	assert.Equal(t, before, snapshot(t, dir))

	t.Run("parents", func(t *testing.T) {
		parents := func(b string) string { return gitIn(t, dir, "log", "-1", "--format=%P", b) }
		assert.Empty(t, parents("stage-1"))
		assert.Empty(t, parents("exercise-1"))
		for n := 2; n <= repo.Stages; n++ {
			prev := gitIn(t, dir, "rev-parse", fmt.Sprintf("stage-%d", n-1))
			assert.Equal(t, prev, parents(fmt.Sprintf("stage-%d", n)))
			assert.Equal(t, prev, parents(fmt.Sprintf("exercise-%d", n)))
		}
	})

	t.Run("fixed identity and content-only message", func(t *testing.T) {
		s, err := lesson.Load(fixture, 3)
		require.NoError(t, err)
		got := gitIn(t, dir, "log", "-1", "--format=%an <%ae> %aI|%cn <%ce> %cI|%s", "stage-3")
		assert.Equal(t, "Go observability workshop kit <workshop@go-o11y-workshop.invalid> 2026-01-01T00:00:00+00:00|"+
			"Go observability workshop kit <workshop@go-o11y-workshop.invalid> 2026-01-01T00:00:00+00:00|"+
			"Stage 3: "+s.Title, got)
		assert.Contains(t, gitIn(t, dir, "log", "-1", "--format=%b", "exercise-3"), "Generated by `workshop branches`")
	})

	t.Run("the committed content, not the work tree or the index", func(t *testing.T) {
		main := gitIn(t, dir, "show", "stage-3:dice-roller/main.go")
		assert.NotContains(t, main, "edited, not committed")
		assert.Contains(t, main, "func main()")
		assert.NotContains(t, gitIn(t, dir, "show", "stage-2:go.mod"), "staged, not committed")
	})

	t.Run("one module path, no markers", func(t *testing.T) {
		diff := gitIn(t, dir, "diff", "stage-1", "stage-2")
		assert.Contains(t, diff, "frontend/main.go")
		assert.NotContains(t, diff, "kit/stages/")
		assert.NotRegexp(t, regexp.MustCompile(`(?m)^[-+ ]\s*// exercise \d+\.\d+: `), diff)
		for n := 1; n <= repo.Stages; n++ {
			for _, b := range []string{"stage-%d", "exercise-%d"} {
				name := fmt.Sprintf(b, n)
				assert.Equal(t, "module "+branches.ModulePath, firstLine(gitIn(t, dir, "show", name+":go.mod")), name)
				assert.Empty(t, grep(t, dir, name, "go-o11y-workshop/kit"), name)
			}
			// The code carries no markers (a lesson may still explain them).
			assert.Empty(t, grep(t, dir, fmt.Sprintf("stage-%d", n), "// exercise [0-9]", "--", "*.go"))
		}
	})

	t.Run("exercises keep their TODOs and get the lesson", func(t *testing.T) {
		for n := 1; n <= repo.Stages; n++ {
			name := fmt.Sprintf("exercise-%d", n)
			assert.NotEmpty(t, grep(t, dir, name, fmt.Sprintf(`TODO (exercise %d\.`, n)), name)
			assert.Equal(t,
				gitIn(t, dir, "ls-tree", "-r", fmt.Sprintf("stage-%d", n), "lesson/"),
				gitIn(t, dir, "ls-tree", "-r", name, "lesson/"), name)
		}
	})

	t.Run("README links to the lesson and runs the services", func(t *testing.T) {
		for _, name := range branches.Names() {
			readme := gitIn(t, dir, "show", name+":README.md")
			links := regexp.MustCompile(`\]\((lesson/[^)]+\.md)\)`).FindAllStringSubmatch(readme, -1)
			assert.NotEmpty(t, links, name)
			for _, l := range links {
				gitIn(t, dir, "cat-file", "-e", name+":"+l[1]) // fails the test when the page is missing
			}
			assert.Contains(t, readme, "go run ./dice-roller", name)
			assert.Contains(t, readme, "`workshop branches`", name)
		}
		assert.Contains(t, gitIn(t, dir, "show", "exercise-3:README.md"), "`git diff exercise-3 stage-3` is the solution")
		assert.Contains(t, gitIn(t, dir, "show", "stage-4:README.md"), "go run ./die-service")
	})

	t.Run("again: nothing changes", func(t *testing.T) {
		again := write(t, dir)
		assert.Equal(t, commits(p), commits(again))
		for _, b := range again.Branches {
			assert.Equal(t, branches.Unchanged, b.State(), b.Name)
		}
		assert.Equal(t, before, snapshot(t, dir))
	})
}

func TestSameContentSameHashesInAnyClone(t *testing.T) {
	t.Parallel()
	first := write(t, newRepo(t, "1700000000 +0000"))
	second := write(t, newRepo(t, "1800000000 +0200"))
	assert.NotEqual(t, first.Commit, second.Commit, "the source commits differ")
	assert.Equal(t, commits(first), commits(second))
}

func TestRefusesABranchCheckedOut(t *testing.T) {
	t.Parallel()
	dir := newRepo(t, "1700000000 +0000")
	head := gitIn(t, dir, "rev-parse", "HEAD")
	gitIn(t, dir, "branch", "stage-2", head)
	wt := filepath.Join(t.TempDir(), "wt")
	gitIn(t, dir, "worktree", "add", "-q", wt, "stage-2")

	p := build(t, dir, "HEAD")
	err := p.Write(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stage-2 is checked out in "+wt+"; switch that worktree to another branch first")
	assert.Equal(t, "refs/heads/main\nrefs/heads/stage-2", gitIn(t, dir, "for-each-ref", "--format=%(refname)"), "no branch written")
	assert.Equal(t, head, gitIn(t, dir, "rev-parse", "stage-2"))

	// The branch checked out here is refused the same way.
	gitIn(t, wt, "switch", "-q", "--detach")
	gitIn(t, dir, "switch", "-q", "stage-2")
	err = build(t, dir, "main").Write(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stage-2 is checked out in "+dir)

	// A checked-out branch that would not move is no reason to refuse.
	gitIn(t, dir, "switch", "-q", "main")
	write(t, dir)
	gitIn(t, wt, "switch", "-q", "stage-2")
	again := write(t, dir)
	assert.Equal(t, branches.Unchanged, states(again)["stage-2"])
}

func TestANewCommitMovesTheBranchesItChanges(t *testing.T) {
	t.Parallel()
	dir := newRepo(t, "1700000000 +0000")
	old := commits(write(t, dir))

	roll := filepath.Join(dir, "stages", "stage3", "dice-roller", "roll.go")
	b, err := os.ReadFile(roll)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(roll, append(b, "\n// A new line of stage 3.\n"...), 0o644))
	gitIn(t, dir, "commit", "-q", "-am", "stage 3: one more line")

	p := write(t, dir)
	assert.Equal(t, map[string]branches.State{
		"stage-1": branches.Unchanged, "stage-2": branches.Unchanged,
		"stage-3": branches.Updated, "stage-4": branches.Updated,
		"exercise-1": branches.Unchanged, "exercise-2": branches.Unchanged,
		"exercise-3": branches.Unchanged, "exercise-4": branches.Updated,
	}, states(p))
	for _, b := range p.Branches {
		assert.Equal(t, old[b.Name], b.Old, b.Name)
		assert.Equal(t, b.Commit, gitIn(t, dir, "rev-parse", "refs/heads/"+b.Name), b.Name)
	}
	assert.Contains(t, gitIn(t, dir, "diff", old["stage-3"], "stage-3"), "+// A new line of stage 3.")
	assert.Empty(t, gitIn(t, dir, "diff", old["stage-4"], "stage-4"), "stage-4 moved for its parent only")

	// --from an older commit gives the older branches back.
	assert.Equal(t, old, commits(build(t, dir, "HEAD~1")))
}

func TestStage4BranchIsAWorkingModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	t.Parallel()
	dir := newRepo(t, "1700000000 +0000")
	write(t, dir)
	wt := filepath.Join(t.TempDir(), "stage-4")
	gitIn(t, dir, "worktree", "add", "-q", wt, "stage-4")
	cmd := exec.Command("go", "build", "./...")
	cmd.Dir = wt
	// Outside the kit's workspace, from the module cache only.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "go build ./... in stage-4: %s", out)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	notGit := t.TempDir()

	noStages := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(noStages, "go.work"), []byte("go 1.26.0\n"), 0o644))
	gitIn(t, noStages, "init", "-q", "-b", "main")
	gitIn(t, noStages, "add", "-A")
	gitIn(t, noStages, "commit", "-q", "-m", "no stages yet")

	tests := []struct {
		name, dir, from, want string
	}{
		{"not a repository", notGit, "HEAD", "is not in a git repository"},
		{"unknown revision", noStages, "no-such-branch", `no commit "no-such-branch" in this repository`},
		{"an option as revision", noStages, "--all", `no commit "--all" in this repository`},
		{"no stages in the commit", noStages, "HEAD", "no stages/stage1 in this commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := branches.Build(context.Background(), tt.dir, tt.from)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func names(p *branches.Plan) []string {
	var out []string
	for _, b := range p.Branches {
		out = append(out, b.Name)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// grep lists the lines of a branch's tree matching pattern, "" for none.
func grep(t *testing.T, dir, branch, pattern string, paths ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"grep", "-n", "-e", pattern, branch}, paths...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return ""
	}
	require.NoError(t, err)
	return string(out)
}
