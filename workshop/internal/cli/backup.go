package cli

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// confirm asks a yes/no question on Stderr and reads one line of Stdin; no
// input (nil Stdin, end of file) is "no".
func (e *Env) confirm(question string) bool {
	fmt.Fprintf(e.Stderr, "%s [y/N] ", question)
	if e.Stdin == nil {
		fmt.Fprintln(e.Stderr)
		return false
	}
	line, _ := bufio.NewReader(e.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
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

// backupPaths copies rels (files or folders, relative to root; missing ones
// are skipped) into the backup folder dir, keeping their paths.
func backupPaths(root, dir string, rels []string) error {
	for _, rel := range rels {
		src := filepath.Join(root, rel)
		if _, err := os.Lstat(src); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			dst := filepath.Join(dir, r)
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o755)
			case !d.Type().IsRegular():
				return nil
			}
			return copyRegular(p, dst)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// copyRegular copies one file, making dst's folder.
func copyRegular(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, info.Mode().Perm())
}

// copyTree copies the folder src to dst (which should not exist).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, r), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		return copyRegular(p, filepath.Join(dst, r))
	})
}

// stageList is "1, 2, 3".
func stageList(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
