package check

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long Watch waits after a save for the next one: an
// editor's save, a formatter and a `git checkout` write several files.
const debounce = 300 * time.Millisecond

// WatchOptions say what Watch checks and where it draws.
type WatchOptions struct {
	Options
	Out   io.Writer // the report cards and the changes
	Color bool      // ANSI colours
	Clear bool      // clear the screen before each card (a terminal)
	// Debounce is the quiet time after a save before the check runs; 0 is
	// 300 ms.
	Debounce time.Duration
	// Ran, when set, is given each result (the CLI saves it, as a check does).
	Ran func(*Result)
}

// Watch checks the stage module, then again after every save of one of its
// files, until ctx ends (Ctrl-C). Each run draws the report card again and
// says what changed since the run before. A run that is going on when ctx
// ends stops its stage; Watch returns nil once the watcher is closed and
// nothing it started is running.
func Watch(ctx context.Context, o WatchOptions) error {
	if o.Debounce <= 0 {
		o.Debounce = debounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", o.Dir, err)
	}
	defer w.Close()
	if err := watchTree(w, o.Dir, o.Dir); err != nil {
		return fmt.Errorf("watching %s: %w", o.Dir, err)
	}

	var prev *Result
	check := func() (stop bool, err error) {
		res, err := Run(ctx, o.Options)
		if ctx.Err() != nil {
			return true, nil // Ctrl-C: the run stopped its stage
		}
		if err != nil {
			return true, err
		}
		o.draw(prev, res)
		if o.Ran != nil {
			o.Ran(res)
		}
		prev = res
		return false, nil
	}
	if stop, err := check(); stop {
		return err
	}

	var (
		timer   = time.NewTimer(time.Hour)
		saved   []string // what was saved since the last run
		pending bool
	)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			fmt.Fprintf(o.Out, "watching %s: %v\n", o.Dir, err)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !watched(o.Dir, ev.Name) || ev.Op == fsnotify.Chmod {
				continue
			}
			if ev.Has(fsnotify.Create) {
				_ = watchTree(w, o.Dir, ev.Name) // a new folder: watch it too
			}
			if rel, err := filepath.Rel(o.Dir, ev.Name); err == nil && !slices.Contains(saved, rel) {
				saved = append(saved, filepath.ToSlash(rel))
			}
			pending = true
			timer.Reset(o.Debounce)
		case <-timer.C:
			if !pending {
				continue
			}
			pending = false
			fmt.Fprintf(o.Out, "\n%s changed: checking again…\n", strings.Join(saved, ", "))
			saved = nil
			if stop, err := check(); stop {
				return err
			}
		}
	}
}

// watchTree watches dir and every folder under it that watched allows.
func watchTree(w *fsnotify.Watcher, root, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // gone meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && !watched(root, path) {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}

// watched reports whether a save of path concerns the stage: not what the
// kit writes (bin/, .workshop/), not hidden folders (.git), not an editor's
// temporary or backup files.
func watched(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for _, p := range parts {
		if p == "bin" || strings.HasPrefix(p, ".") {
			return false // .workshop, .git, .idea, vim's .x.swp, emacs' .#x
		}
	}
	name := parts[len(parts)-1]
	switch {
	case strings.HasPrefix(name, "#"), strings.HasSuffix(name, "~"), name == "4913", // emacs, backups, vim's probe
		strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swx"), strings.HasSuffix(name, ".tmp"),
		strings.Contains(name, "___jb_"): // JetBrains
		return false
	}
	return true
}

// draw prints a run's report card and what changed since the run before.
func (o WatchOptions) draw(prev, res *Result) {
	if o.Clear {
		fmt.Fprint(o.Out, "\x1b[H\x1b[2J")
	}
	WriteReport(o.Out, res, o.Color)
	if prev != nil {
		fmt.Fprintln(o.Out, Changes(prev, res))
	}
	fmt.Fprintf(o.Out, "watching %s: save a file to check again, Ctrl-C to stop.\n", o.Dir)
}

// Changes says what changed from one run to the next, by exercise and by
// check: "since the last run: exercise 4.3 now passes; check async-span now
// passes; check async-children still fails."
func Changes(prev, cur *Result) string {
	var parts []string
	switch {
	case cur.Setup != nil && prev.Setup == nil:
		return "since the last run: the stage no longer builds or starts."
	case cur.Setup != nil:
		return "since the last run: the stage still does not build or start."
	case prev.Setup != nil:
		parts = append(parts, "the stage builds and starts again")
	}
	before, now := exercisesDone(prev), exercisesDone(cur)
	ids := make([]string, 0, len(now))
	for id := range now {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		switch was, known := before[id]; {
		case now[id] && (!known || !was):
			parts = append(parts, "exercise "+id+" now passes")
		case !now[id] && known && was:
			parts = append(parts, "exercise "+id+" fails again")
		}
	}
	if prev.Setup != nil {
		// Every check is new: the card above lists them.
		return "since the last run: " + strings.Join(parts, "; ") + "."
	}
	passed := map[string]bool{}
	for _, o := range prev.Outcomes {
		passed[o.ID] = o.Passed
	}
	for _, o := range cur.Outcomes {
		was, known := passed[o.ID]
		switch {
		case o.Passed && (!known || !was):
			parts = append(parts, "check "+o.ID+" now passes")
		case o.Skipped:
			parts = append(parts, "check "+o.ID+" is skipped")
		case !o.Passed && known && was:
			parts = append(parts, "check "+o.ID+" now fails")
		case !o.Passed:
			parts = append(parts, "check "+o.ID+" still fails")
		}
	}
	if len(parts) == 0 {
		return "since the last run: nothing changed; every check still passes."
	}
	return "since the last run: " + strings.Join(parts, "; ") + "."
}

// exercisesDone says, for each exercise of the stage a check points to,
// whether every check that points to it passes.
func exercisesDone(r *Result) map[string]bool {
	done := map[string]bool{}
	for _, o := range r.Outcomes {
		for _, p := range o.Where {
			if p.Exercise == "" || !strings.HasPrefix(p.Exercise, fmt.Sprint(r.Stage)+".") {
				continue
			}
			if d, seen := done[p.Exercise]; !seen || d {
				done[p.Exercise] = o.Passed
			}
		}
	}
	return done
}
