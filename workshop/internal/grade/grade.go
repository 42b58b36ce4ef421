// Package grade runs `workshop check` over many learners' checkouts and
// renders the results as one table, CSV or JSON: Gather collects the rows,
// the Write functions render them.
package grade

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// Row is one learner's results, by stage.
type Row struct {
	Learner string         `json:"learner"`
	Dir     string         `json:"dir"`
	Stages  map[string]Col `json:"stages"`
}

// Col is one stage of one learner.
type Col struct {
	Passed  int      `json:"passed"`
	Total   int      `json:"total"`
	Failing []string `json:"failing,omitempty"` // the ids of the checks that failed
	Error   string   `json:"error,omitempty"`
	// Unfinished: the check did not finish (grading was interrupted, or it
	// ran past Options.Timeout); Error says which.
	Unfinished bool   `json:"unfinished,omitempty"`
	Runtime    string `json:"runtime,omitempty"` // where the learner's code ran
}

// Options say what to grade and how.
type Options struct {
	Stages   []int  // the stages to check, where the learner has them
	Parallel int    // how many checks run at once (at least 1)
	Runtime  string // as check's
	// Timeout bounds each check (none when zero): one learner whose code
	// hangs does not hold up the grading.
	Timeout time.Duration
	// Check runs one check; check.Run unless a test replaces it.
	Check func(ctx context.Context, o check.Options) (*check.Result, error)
}

// Gather checks each stage of o.Stages that each learner's checkout has
// (its exercises/stageN), at most o.Parallel at a time, and returns one row
// per checkout, in the order of dirs. A check that could not run is a
// column with an error, not a failure of the whole grading; a check cut
// short (ctx ends, or it runs past o.Timeout) is a column marked
// unfinished, and so is one that never started: Gather always returns every
// row.
func Gather(ctx context.Context, dirs []string, o Options) []Row {
	run := o.Check
	if run == nil {
		run = check.Run
	}
	rows := make([]Row, len(dirs))
	sem := make(chan struct{}, max(o.Parallel, 1))
	var wg sync.WaitGroup
	for i, d := range dirs {
		rows[i] = Row{Learner: filepath.Base(filepath.Clean(d)), Dir: d, Stages: map[string]Col{}}
		var mu sync.Mutex
		for _, n := range o.Stages {
			dir := repo.ExerciseDir(d, n)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			wg.Go(func() {
				col := Col{Runtime: o.Runtime}
				defer func() {
					mu.Lock()
					rows[i].Stages[strconv.Itoa(n)] = col
					mu.Unlock()
				}()
				select {
				case sem <- struct{}{}:
					defer func() { <-sem }()
				case <-ctx.Done():
				}
				if ctx.Err() != nil {
					col.Unfinished, col.Error = true, "unfinished: not started, grading was interrupted"
					return
				}
				checkCtx, cancel := ctx, context.CancelFunc(func() {})
				if o.Timeout > 0 {
					checkCtx, cancel = context.WithTimeout(ctx, o.Timeout)
				}
				defer cancel()
				res, err := run(checkCtx, check.Options{Stage: n, Dir: dir, Runtime: o.Runtime})
				if res != nil && res.Runtime != "" {
					col.Runtime = res.Runtime
				}
				switch {
				case ctx.Err() != nil:
					col.Unfinished, col.Error = true, "unfinished: grading was interrupted"
				case checkCtx.Err() != nil:
					col.Unfinished, col.Error = true, fmt.Sprintf("unfinished: still running after %s (--timeout)", o.Timeout)
				case err != nil:
					col.Error = err.Error()
				case res.Setup != nil:
					col.Total = len(check.Catalog(n))
					col.Error = firstLine(res.Setup.Error())
				default:
					col.Passed, col.Total, col.Failing = res.Passed(), len(res.Outcomes), res.Failing()
				}
			})
		}
	}
	wg.Wait()
	return rows
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// WriteJSON writes the rows as an indented JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// WriteCSV writes one record per learner: passed and total of each stage,
// the ids of its failing checks, and a note when it could not be checked
// or did not finish (its error's first line).
func WriteCSV(w io.Writer, rows []Row, stages []int) error {
	cw := csv.NewWriter(w)
	header := []string{"learner"}
	for _, n := range stages {
		header = append(header, fmt.Sprintf("stage%d_passed", n), fmt.Sprintf("stage%d_total", n), fmt.Sprintf("stage%d_failing", n),
			fmt.Sprintf("stage%d_note", n))
	}
	_ = cw.Write(header)
	for _, r := range rows {
		rec := []string{r.Learner}
		for _, n := range stages {
			c := r.Stages[strconv.Itoa(n)]
			rec = append(rec, strconv.Itoa(c.Passed), strconv.Itoa(c.Total), strings.Join(c.Failing, " "), c.Error)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the table for people: the runtime the learners' code
// ran in, a line per learner with passed/total per stage ("-" where the
// learner has no such stage, "unfinished" where its check did not finish),
// and under it why a stage could not be checked.
func WriteTable(w io.Writer, rows []Row, stages []int) {
	var runtimes []string
	for _, r := range rows {
		for _, c := range r.Stages {
			if c.Runtime != "" && !slices.Contains(runtimes, c.Runtime) {
				runtimes = append(runtimes, c.Runtime)
			}
		}
	}
	if len(runtimes) > 0 {
		slices.Sort(runtimes)
		fmt.Fprintf(w, "runtime: %s\n", strings.Join(runtimes, ", "))
	}
	fmt.Fprintf(w, "%-20s", "learner")
	for _, n := range stages {
		fmt.Fprintf(w, "  stage %d", n)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "%-20s", r.Learner)
		var notes []string
		for _, n := range stages {
			c, ok := r.Stages[strconv.Itoa(n)]
			switch {
			case !ok:
				fmt.Fprintf(w, "  %7s", "-")
			case c.Unfinished:
				fmt.Fprintf(w, "  %s", "unfinished")
				notes = append(notes, fmt.Sprintf("stage %d: %s", n, c.Error))
			default:
				fmt.Fprintf(w, "  %7s", fmt.Sprintf("%d/%d", c.Passed, c.Total))
				if c.Error != "" {
					notes = append(notes, fmt.Sprintf("stage %d: %s", n, c.Error))
				}
				if len(c.Failing) > 0 {
					notes = append(notes, fmt.Sprintf("stage %d fails: check %s", n, strings.Join(c.Failing, ", check ")))
				}
			}
		}
		fmt.Fprintln(w)
		for _, note := range notes {
			fmt.Fprintf(w, "    %s\n", note)
		}
	}
}
