// Package files copies folders of the checkout: a stage module (for a break,
// an exercise starter or its finished code), a generated tree into place,
// and a learner's files into a backup before the CLI replaces them.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// CopyTree copies the folder src to dst (created when missing; none of the
// copied files may exist there yet): folders and regular files only, with
// their execute bits, leaving out each entry skip returns true for (a folder
// with all it holds). rel is the entry's slash-separated path under src.
func CopyTree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return os.CopyFS(dst, tree{FS: os.DirFS(src), skip: skip})
}

// tree is a folder as os.CopyFS sees it, without what it should not copy.
type tree struct {
	fs.FS
	skip func(rel string, d fs.DirEntry) bool
}

func (t tree) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(t.FS, name)
	kept := entries[:0]
	for _, e := range entries {
		if !e.IsDir() && !e.Type().IsRegular() { // links, sockets, devices
			continue
		}
		if t.skip == nil || !t.skip(path.Join(name, e.Name()), e) {
			kept = append(kept, e)
		}
	}
	return kept, err
}

// CopyModule copies the Go module at src to dst (which must not exist or be
// empty) without its lesson/ folder (the lesson is read from the stage) and
// bin/ (what `workshop pack` writes for the images), and without its
// _test.go files unless tests: what builds and runs the services, or, with
// the tests, the module as a learner works on it.
func CopyModule(src, dst string, tests bool) error {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return fmt.Errorf("%s is not a Go module (no go.mod there)", src)
	}
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return fmt.Errorf("copying to %s: the folder is not empty", dst)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return CopyTree(src, dst, func(rel string, d fs.DirEntry) bool {
		if d.IsDir() {
			return rel == "lesson" || rel == "bin"
		}
		return !tests && strings.HasSuffix(d.Name(), "_test.go")
	})
}

// Replace puts the files and folders rels (relative to root and to from) of
// from in place of root's, after copying root's into a new backup folder,
// .workshop/backups/<UTC time>/ under root, whose path it returns. A folder
// is replaced as a whole. Nothing is replaced when the backup fails; rels
// missing from root are not backed up.
func Replace(root, from string, rels []string) (backup string, err error) {
	for _, rel := range rels {
		if _, err := os.Stat(filepath.Join(from, rel)); err != nil {
			return "", fmt.Errorf("nothing to put in place of %s: %w", rel, err)
		}
	}
	if backup, err = newBackupDir(root); err != nil {
		return "", err
	}
	for _, rel := range rels {
		if err := copyPath(filepath.Join(root, rel), filepath.Join(backup, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("backing up %s (nothing was replaced): %w", rel, err)
		}
	}
	for _, rel := range rels {
		dst := filepath.Join(root, rel)
		if fi, err := os.Stat(filepath.Join(from, rel)); err == nil && fi.IsDir() {
			if err := os.RemoveAll(dst); err != nil {
				return backup, err
			}
		}
		if err := copyPath(filepath.Join(from, rel), dst); err != nil {
			return backup, err
		}
	}
	return backup, nil
}

// copyPath copies a folder (to a dst that does not exist yet) or a file
// (over dst), making dst's parent folders.
func copyPath(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return CopyTree(src, dst, nil)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, fi.Mode().Perm())
}

// newBackupDir makes a fresh .workshop/backups/<UTC timestamp> of root.
func newBackupDir(root string) (string, error) {
	base := filepath.Join(root, ".workshop", "backups", time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", err
	}
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", err
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}
