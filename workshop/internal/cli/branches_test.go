package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitRepo turns the fixture checkout into a git repository with one commit:
// fixtureRepo's stages plus, for each, an exercise module.
func gitRepo(t *testing.T) string {
	t.Helper()
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	root := fixtureRepo(t)
	for n := 1; n <= 4; n++ {
		dir := filepath.Join(root, "exercises", fmt.Sprintf("stage%d", n))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil, "module example.com/exercises/stage%d\n", n), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "main.go"), fmt.Appendf(nil, "package main\n\n// TODO (exercise %d.1): Do the thing\nfunc main() {}\n", n), 0o644))
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	return root
}

// branchLines are the per-branch lines of the output: name → the rest.
func branchLines(out string) map[string]string {
	lines := map[string]string{}
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && (strings.HasPrefix(f[0], "stage-") || strings.HasPrefix(f[0], "exercise-")) {
			lines[f[0]] = strings.Join(f[2:], " ")
		}
	}
	return lines
}

func TestBranchesVerb(t *testing.T) {
	t.Setenv("WORKSHOP_ROOT", "")
	root := gitRepo(t)
	refs := func() string {
		out, err := exec.Command("git", "-C", root, "for-each-ref", "--format=%(refname:short)").Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}

	code, out, errOut := run(t, filepath.Join(root, "stages"), "branches", "--dry-run")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^branches from HEAD = commit [0-9a-f]{7,} `, out)
	assert.Contains(t, out, "dry run: no branch written")
	assert.Len(t, branchLines(out), 8)
	for name, l := range branchLines(out) {
		assert.Regexp(t, `^would be created \d+ files$`, l, name)
	}
	assert.Equal(t, "main", refs())

	code, out, errOut = run(t, root, "branches")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, branchLines(out), 8)
	for name, l := range branchLines(out) {
		assert.Regexp(t, `^created \d+ files$`, l, name)
	}
	assert.Equal(t, "exercise-1\nexercise-2\nexercise-3\nexercise-4\nmain\nstage-1\nstage-2\nstage-3\nstage-4", refs())

	code, out, _ = run(t, root, "branches", "--from", "main")
	require.Equal(t, 0, code)
	for name, l := range branchLines(out) {
		assert.Regexp(t, `^unchanged \d+ files$`, l, name)
	}
}

func TestBranchesErrors(t *testing.T) {
	t.Setenv("WORKSHOP_ROOT", "")
	root := gitRepo(t)
	notGit := fixtureRepo(t)
	tests := []struct {
		name     string
		dir      string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"an argument", root, []string{"branches", "4"}, 2, "branches takes no arguments"},
		{"an unknown flag", root, []string{"branches", "--stage", "4"}, 2, "flag provided but not defined"},
		{"an unknown revision", root, []string{"branches", "--from", "nope"}, 1, `no commit "nope" in this repository`},
		{"not a git repository", notGit, []string{"branches"}, 1, "is not in a git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.dir, tt.args...)
			assert.Equal(t, tt.wantCode, code)
			assert.Contains(t, errOut, tt.wantErr)
		})
	}
}
