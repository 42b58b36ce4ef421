package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// gradeRow is one learner's results, by stage.
type gradeRow struct {
	Learner string              `json:"learner"`
	Dir     string              `json:"dir"`
	Stages  map[string]gradeCol `json:"stages"`
}

type gradeCol struct {
	Passed  int      `json:"passed"`
	Total   int      `json:"total"`
	Failing []string `json:"failing,omitempty"` // the ids of the checks that failed
	Error   string   `json:"error,omitempty"`
}

func runGrade(env *Env, args []string) error {
	fs := newFlags(env, "grade", "DIR... [--stage N] [--parallel 2] [--runtime auto] [--csv|--json]")
	stageFlag := fs.String("stage", "", "grade only this stage (default: every stage the learner has)")
	parallel := fs.Int("parallel", 2, "how many checks run at once")
	rt := fs.String("runtime", "auto", "docker, local or auto")
	asCSV := fs.Bool("csv", false, "print CSV")
	asJSON := fs.Bool("json", false, "print JSON")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("grade needs at least one learner checkout: workshop grade ~/class/*/")
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	if *asCSV && *asJSON {
		return usagef("choose one of --csv and --json")
	}
	stages := []int{1, 2, 3, 4}
	if *stageFlag != "" {
		n, err := repo.ParseStage(*stageFlag)
		if err != nil {
			return usageError{err.Error()}
		}
		stages = []int{n}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	sweepLocal(env)
	rows := make([]gradeRow, len(dirs))
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i, d := range dirs {
		rows[i] = gradeRow{Learner: filepath.Base(filepath.Clean(d)), Dir: d, Stages: map[string]gradeCol{}}
		var mu sync.Mutex
		for _, n := range stages {
			dir := repo.ExerciseDir(d, n)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				col := gradeCol{}
				res, err := check.Run(ctx, check.Options{Stage: n, Dir: dir, Runtime: *rt})
				switch {
				case err != nil:
					col.Error = err.Error()
				case res.Setup != nil:
					col.Total = len(check.Catalog(n))
					col.Error = firstLine(res.Setup.Error())
				default:
					col.Passed, col.Total, col.Failing = res.Passed(), len(res.Outcomes), res.Failing()
				}
				mu.Lock()
				rows[i].Stages[strconv.Itoa(n)] = col
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(env.Stderr, "interrupted: every stage was stopped")
		return errSilentFailure
	}

	switch {
	case *asJSON:
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case *asCSV:
		w := csv.NewWriter(env.Stdout)
		header := []string{"learner"}
		for _, n := range stages {
			header = append(header, fmt.Sprintf("stage%d_passed", n), fmt.Sprintf("stage%d_total", n), fmt.Sprintf("stage%d_failing", n))
		}
		_ = w.Write(header)
		for _, r := range rows {
			rec := []string{r.Learner}
			for _, n := range stages {
				c := r.Stages[strconv.Itoa(n)]
				rec = append(rec, strconv.Itoa(c.Passed), strconv.Itoa(c.Total), strings.Join(c.Failing, " "))
			}
			_ = w.Write(rec)
		}
		w.Flush()
		return w.Error()
	}
	fmt.Fprintf(env.Stdout, "%-20s", "learner")
	for _, n := range stages {
		fmt.Fprintf(env.Stdout, "  stage %d", n)
	}
	fmt.Fprintln(env.Stdout)
	for _, r := range rows {
		fmt.Fprintf(env.Stdout, "%-20s", r.Learner)
		var notes []string
		for _, n := range stages {
			c, ok := r.Stages[strconv.Itoa(n)]
			switch {
			case !ok:
				fmt.Fprintf(env.Stdout, "  %7s", "-")
			default:
				fmt.Fprintf(env.Stdout, "  %7s", fmt.Sprintf("%d/%d", c.Passed, c.Total))
				if c.Error != "" {
					notes = append(notes, fmt.Sprintf("stage %d: %s", n, c.Error))
				}
				if len(c.Failing) > 0 {
					notes = append(notes, fmt.Sprintf("stage %d fails: check %s", n, strings.Join(c.Failing, ", check ")))
				}
			}
		}
		fmt.Fprintln(env.Stdout)
		for _, note := range notes {
			fmt.Fprintf(env.Stdout, "    %s\n", note)
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
