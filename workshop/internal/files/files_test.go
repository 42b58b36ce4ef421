package files

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// write makes the files of a folder: path → content.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		p = filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// list is every file under dir (slash paths) with its content.
func list(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return out
}

func TestCopyModule(t *testing.T) {
	src := t.TempDir()
	write(t, src, map[string]string{
		"go.mod": "module m\n", "dice-roller/main.go": "package main\n", "dice-roller/main_test.go": "package main\n",
		"lesson/01.md": "# step\n", "bin/dice-roller": "binary", "internal/x/bin/keep.go": "package bin\n",
	})
	require.NoError(t, os.Chmod(filepath.Join(src, "bin/dice-roller"), 0o755))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "dice-roller", "link")))

	without := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, CopyModule(src, without, false))
	assert.Equal(t, map[string]string{"go.mod": "module m\n", "dice-roller/main.go": "package main\n",
		"internal/x/bin/keep.go": "package bin\n"}, list(t, without),
		"no lesson/, no top-level bin/, no tests, no links")

	with := t.TempDir() // exists and is empty: fine
	require.NoError(t, CopyModule(src, with, true))
	assert.Contains(t, list(t, with), "dice-roller/main_test.go")

	assert.ErrorContains(t, CopyModule(src, with, true), "the folder is not empty")
	assert.ErrorContains(t, CopyModule(t.TempDir(), filepath.Join(t.TempDir(), "x"), true), "is not a Go module")
}

func TestCopyTreeKeepsExecuteBits(t *testing.T) {
	src := t.TempDir()
	write(t, src, map[string]string{"run.sh": "#!/bin/sh\n", "a/b.txt": "b"})
	require.NoError(t, os.Chmod(filepath.Join(src, "run.sh"), 0o755))
	dst := filepath.Join(t.TempDir(), "dst")
	require.NoError(t, CopyTree(src, dst, nil))
	assert.Equal(t, map[string]string{"run.sh": "#!/bin/sh\n", "a/b.txt": "b"}, list(t, dst))
	fi, err := os.Stat(filepath.Join(dst, "run.sh"))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&0o100, "still executable")
	assert.ErrorIs(t, CopyTree(src, dst, nil), fs.ErrExist, "never overwrites")
}

// TestReplaceBacksUpThenSwaps: a folder is replaced as a whole and a file
// over the old one; what was there is in the backup; a file root does not
// have yet is just added.
func TestReplaceBacksUpThenSwaps(t *testing.T) {
	root, from := t.TempDir(), t.TempDir()
	write(t, root, map[string]string{"ex/stage1/a.go": "mine", "ex/stage1/extra.go": "my extra", "ex/stage2/b.go": "mine b"})
	write(t, from, map[string]string{"ex/stage1/a.go": "start", "ex/stage2/b.go": "start b", "ex/stage2/new.go": "new"})

	backup, err := Replace(root, from, []string{"ex/stage1", "ex/stage2/b.go", "ex/stage2/new.go"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(backup, filepath.Join(root, ".workshop", "backups")+string(filepath.Separator)), backup)
	assert.Equal(t, map[string]string{"ex/stage1/a.go": "mine", "ex/stage1/extra.go": "my extra", "ex/stage2/b.go": "mine b"},
		list(t, backup))

	got := list(t, root)
	for p := range got {
		if strings.HasPrefix(p, ".workshop/") {
			delete(got, p)
		}
	}
	assert.Equal(t, map[string]string{"ex/stage1/a.go": "start", "ex/stage2/b.go": "start b", "ex/stage2/new.go": "new"}, got,
		"stage1's extra file is gone with its folder; stage2 keeps its folder")

	again, err := Replace(root, from, []string{"ex/stage1"})
	require.NoError(t, err)
	assert.NotEqual(t, backup, again, "each replacement gets a backup folder of its own")
}

func TestReplaceChangesNothingWhenThereIsNothingToPutInPlace(t *testing.T) {
	root, from := t.TempDir(), t.TempDir()
	write(t, root, map[string]string{"ex/a.go": "mine"})
	_, err := Replace(root, from, []string{"ex/a.go"})
	assert.ErrorContains(t, err, "nothing to put in place of ex/a.go")
	assert.Equal(t, map[string]string{"ex/a.go": "mine"}, list(t, root))
	entries, _ := os.ReadDir(filepath.Join(root, ".workshop"))
	assert.Empty(t, entries, "no backup folder either")
}
