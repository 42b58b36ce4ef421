// Package stagediff compares two stage modules file by file: what stage N
// adds to stage N-1, or what a learner's exercise still lacks.
package stagediff

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
)

// Options choose what is compared.
type Options struct {
	// Tests includes *_test.go files (left out by default: the lesson is the code).
	Tests bool
	// Only restricts the comparison to one file (a path relative to the module).
	Only string
	// Rename maps text of the old tree to the new tree's before comparing, so
	// that the module path (stages/stage3 → stages/stage4) does not make every
	// import line differ.
	Rename [2]string
}

// File is the change to one file.
type File struct {
	Path    string // relative, slash-separated
	Status  string // "added", "removed" or "modified"
	Added   int    // lines
	Removed int    // lines
	Unified string // the unified diff
}

// Compare returns the files that differ between the trees old and new.
// old may be "" (everything is added).
func Compare(old, new string, o Options) ([]File, error) {
	oldFiles, err := listFiles(old, o)
	if err != nil {
		return nil, err
	}
	newFiles, err := listFiles(new, o)
	if err != nil {
		return nil, err
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range oldFiles {
			if !yield(p) {
				return
			}
		}
		for p := range newFiles {
			if _, dup := oldFiles[p]; !dup && !yield(p) {
				return
			}
		}
	})
	if o.Only != "" {
		only := filepath.ToSlash(filepath.Clean(o.Only))
		if !slices.Contains(paths, only) {
			return nil, fmt.Errorf("no file %s in either stage; files: %s", o.Only, strings.Join(paths, ", "))
		}
		paths = []string{only}
	}

	var out []File
	for _, p := range paths {
		_, inOld := oldFiles[p]
		_, inNew := newFiles[p]
		var before, after string
		if inOld {
			if before, err = readText(filepath.Join(old, p)); err != nil {
				return nil, err
			}
			if o.Rename[0] != "" {
				before = strings.ReplaceAll(before, o.Rename[0], o.Rename[1])
			}
		}
		if inNew {
			if after, err = readText(filepath.Join(new, p)); err != nil {
				return nil, err
			}
		}
		if before == after && inOld == inNew {
			continue
		}
		f := File{Path: p, Status: "modified"}
		oldLabel, newLabel := "a/"+p, "b/"+p
		switch {
		case !inOld:
			f.Status, oldLabel = "added", "/dev/null"
		case !inNew:
			f.Status, newLabel = "removed", "/dev/null"
		}
		edits := udiff.Lines(before, after)
		f.Unified, err = udiff.ToUnified(oldLabel, newLabel, before, edits, 3)
		if err != nil {
			return nil, err
		}
		f.Added, f.Removed = countLines(f.Unified)
		out = append(out, f)
	}
	return out, nil
}

// listFiles lists the text files of a module that belong in a diff.
func listFiles(root string, o Options) (map[string]struct{}, error) {
	files := map[string]struct{}{}
	if root == "" {
		return files, nil
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// The lesson is what the diff explains, not part of it; testdata
			// holds fixtures; bin/ is what builds and `workshop pack` write.
			if rel == "lesson" || rel == "bin" || d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && rel != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.sum" || (!o.Tests && strings.HasSuffix(d.Name(), "_test.go")) {
			return nil
		}
		files[rel] = struct{}{}
		return nil
	})
	return files, err
}

// readText reads a file without its exercise markers: they are not lesson
// code, and an exercise tree keeps them too.
func readText(path string) (string, error) {
	b, err := os.ReadFile(path)
	return exercise.StripMarkers(string(b)), err
}

func countLines(unified string) (added, removed int) {
	for _, line := range strings.Split(unified, "\n") {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		case strings.HasPrefix(line, "+"):
			added++
		case strings.HasPrefix(line, "-"):
			removed++
		}
	}
	return added, removed
}

// Colours used when the output is a terminal.
const (
	red   = "\x1b[31m"
	green = "\x1b[32m"
	cyan  = "\x1b[36m"
	bold  = "\x1b[1m"
	reset = "\x1b[0m"
)

// WriteDiff prints each file's unified diff, coloured when color is set.
func WriteDiff(w io.Writer, files []File, color bool) {
	for _, f := range files {
		for _, line := range strings.SplitAfter(f.Unified, "\n") {
			if line == "" {
				continue
			}
			if !color {
				io.WriteString(w, line)
				continue
			}
			c := ""
			switch {
			case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
				c = bold
			case strings.HasPrefix(line, "+"):
				c = green
			case strings.HasPrefix(line, "-"):
				c = red
			case strings.HasPrefix(line, "@@"):
				c = cyan
			}
			if c == "" {
				io.WriteString(w, line)
				continue
			}
			fmt.Fprintf(w, "%s%s%s\n", c, strings.TrimSuffix(line, "\n"), reset)
		}
	}
}

// WriteStat prints one line per file with its counts and a bar, then totals.
func WriteStat(w io.Writer, files []File, color bool) {
	width := 0
	for _, f := range files {
		width = max(width, len(f.Path))
	}
	var added, removed int
	for _, f := range files {
		added += f.Added
		removed += f.Removed
		plus := strings.Repeat("+", scale(f.Added, f.Added+f.Removed))
		minus := strings.Repeat("-", scale(f.Removed, f.Added+f.Removed))
		if color {
			plus, minus = green+plus+reset, red+minus+reset
		}
		fmt.Fprintf(w, " %-*s | %4d %s%s  (%s)\n", width, f.Path, f.Added+f.Removed, plus, minus, f.Status)
	}
	fmt.Fprintf(w, " %d files changed, %d insertions(+), %d deletions(-)\n", len(files), added, removed)
}

// scale shrinks a count so that the bar of a file is at most 40 characters.
func scale(n, total int) int {
	const maxBar = 40
	if total <= maxBar {
		return n
	}
	return (n*maxBar + total - 1) / total
}
