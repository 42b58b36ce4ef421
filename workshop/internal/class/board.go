package class

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// recentWindow is what "now" means in "the most common failure now": the
// results received in the last half hour.
const recentWindow = 30 * time.Minute

// entry is one learner as the board sees them at one moment.
type entry struct {
	Learner
	Results map[int]Stored
	Traces  int // telemetry traces held
}

// roster snapshots the learners. Results are never modified in place, so
// the snapshot can share them.
func (s *Server) roster() []entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]entry, 0, len(s.learners))
	for _, m := range s.learners {
		e := entry{Learner: m.Learner, Results: make(map[int]Stored, len(m.results)), Traces: m.telemetry.Stats().Traces}
		for n, r := range m.results {
			e.Results[n] = r
		}
		out = append(out, e)
	}
	return out
}

// Board is what the board page shows.
type Board struct {
	Learners    int
	Stages      []int
	Rows        []Row
	Headline    *Headline
	Failures    []FailureCount // the most common first failures now, most first
	Steps       []StepCount    // every step seen, with how many have it green
	StageTotals []StageTotal
	Sort        string // "name", "stuck" or "progress"
	Step        string // the step asked for, "" for the room's
	Now         time.Time
}

// Row is one learner.
type Row struct {
	ID, Name string
	Cells    []Cell // one per stage
	Position string // "step 4.3", "stage 4 done", "no check yet"
	Stuck    bool   // on a failing step
	OnStep   time.Duration
	Seen     time.Time
	Traces   int
	order    []int // stage, then step, for sorting by progress
}

// Cell is one learner's last result of one stage.
type Cell struct {
	Stage int
	State string // "pass", "fail", "build" (did not build or start), "none"
	Text  string // "17/19"
	Title string // on hover: the first failing check
}

// Headline is the room in one sentence: how many have a step green.
type Headline struct {
	Stage      int
	Step, Kind string // Kind: "exercise" or "step"
	Green, Of  int
	Ref        string // the step's Ref, to mark it in the list
}

// FailureCount is how many learners' first failing check is Key.
type FailureCount struct {
	Key, Title, Step string
	Count            int
}

// StepCount is how many learners have a step green in their result of a
// stage. (A stage's checks may point to an earlier stage's step: stage 3's
// flush check is taught in step 1.1.)
type StepCount struct {
	Stage int
	Step  string
	Green int
}

// Ref names the step in the board's URLs: "4.3", or "3:1.1" when the
// step belongs to an earlier stage than the result.
func (c StepCount) Ref() string { return stepRef(c.Stage, c.Step) }

// Own reports whether the step is one of its stage's own (the board
// lists those; a check of stage 3 taught in step 1.1 counts in its row).
func (c StepCount) Own() bool { return stageOfStep(c.Step) == c.Stage }

// Label is the step for people: "4.3", or "1.1 in stage 3".
func (c StepCount) Label() string {
	if stageOfStep(c.Step) == c.Stage {
		return c.Step
	}
	return fmt.Sprintf("%s in stage %d", c.Step, c.Stage)
}

func stepRef(stage int, step string) string {
	if stageOfStep(step) == stage {
		return step
	}
	return strconv.Itoa(stage) + ":" + step
}

// parseStepRef reads a Ref.
func parseStepRef(ref string) (int, string) {
	if stage, step, ok := strings.Cut(ref, ":"); ok {
		n, _ := atoi(stage)
		return n, step
	}
	return stageOfStep(ref), ref
}

// StageTotal is how many learners have a stage green, of those who
// checked it.
type StageTotal struct {
	Stage          int
	Green, Checked int
}

func (s *Server) board(sortBy, step string) Board {
	return buildBoard(s.roster(), s.opts.Now(), sortBy, step, s.opts.Exercises)
}

// buildBoard aggregates the learners' results into the board.
func buildBoard(learners []entry, now time.Time, sortBy, step string, exercises map[string]bool) Board {
	b := Board{Learners: len(learners), Sort: sortBy, Step: step, Now: now}
	if b.Sort != "stuck" && b.Sort != "progress" {
		b.Sort = "name"
	}
	for n := 1; n <= repo.Stages; n++ {
		b.Stages = append(b.Stages, n)
	}
	b.StageTotals = make([]StageTotal, len(b.Stages))
	failures := map[string]*FailureCount{}
	current := map[string]int{} // learners on each step, by Ref
	steps := map[string]StepCount{}

	for _, l := range learners {
		row := Row{ID: l.ID, Name: l.Name, Seen: l.Seen, Traces: l.Traces}
		for i, n := range b.Stages {
			r, ok := l.Results[n]
			row.Cells = append(row.Cells, cellOf(n, r, ok))
			if !ok {
				continue
			}
			b.StageTotals[i].Stage = n
			b.StageTotals[i].Checked++
			if r.Result.OK {
				b.StageTotals[i].Green++
			}
			for _, c := range r.Result.Checks {
				steps[stepRef(n, c.Step)] = StepCount{Stage: n, Step: c.Step}
			}
		}
		newest, has := l.Results[l.Stage]
		switch {
		case l.Stage == 0 || !has:
			row.Position = "no check yet"
		case newest.Result.Setup != "":
			row.Position = fmt.Sprintf("stage %d does not build or start", l.Stage)
			if l.Step != "" {
				row.Position = "step " + l.Step + ", and now the stage does not build or start"
			}
			row.Stuck = true
			row.OnStep = now.Sub(l.StepSince)
			row.order = append([]int{l.Stage}, stepNumbers(l.Step)...)
		case l.Step == "":
			row.Position = fmt.Sprintf("stage %d done", l.Stage)
			row.OnStep = now.Sub(l.StepSince)
			row.order = []int{l.Stage, 1 << 20}
		default:
			row.Position = "step " + l.Step
			if stageOfStep(l.Step) != l.Stage {
				row.Position = fmt.Sprintf("stage %d, step %s", l.Stage, l.Step)
			}
			row.Stuck = true
			row.OnStep = now.Sub(l.StepSince)
			row.order = append([]int{l.Stage}, stepNumbers(l.Step)...)
			if now.Sub(newest.Received) <= recentWindow { // the room is who is working now
				current[stepRef(l.Stage, l.Step)]++
			}
		}
		// The most common failure now: each learner's first failing check
		// in their newest result, if it came recently.
		if r, ok := l.Results[l.Stage]; ok && now.Sub(r.Received) <= recentWindow {
			if c, failed := failing(r.Result); failed {
				f := failures[c.ID]
				if f == nil {
					f = &FailureCount{Key: c.ID, Title: c.Title, Step: c.Step}
					failures[c.ID] = f
				}
				f.Count++
			}
		}
		b.Rows = append(b.Rows, row)
	}
	for i := range b.StageTotals {
		b.StageTotals[i].Stage = b.Stages[i]
	}

	for _, f := range failures {
		b.Failures = append(b.Failures, *f)
	}
	slices.SortFunc(b.Failures, func(x, y FailureCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), compareSteps(x.Step, y.Step), cmp.Compare(x.Key, y.Key))
	})
	if len(b.Failures) > 3 {
		b.Failures = b.Failures[:3]
	}

	for _, sc := range steps {
		for _, l := range learners {
			if r, ok := l.Results[sc.Stage]; ok {
				if green, _ := stepGreen(r.Result, sc.Step); green {
					sc.Green++
				}
			}
		}
		b.Steps = append(b.Steps, sc)
	}
	slices.SortFunc(b.Steps, func(x, y StepCount) int {
		return cmp.Or(cmp.Compare(x.Stage, y.Stage), compareSteps(x.Step, y.Step))
	})

	b.Headline = headline(b, current, learners, exercises)
	sortRows(b.Rows, b.Sort)
	return b
}

// headline picks the step to talk about: the one asked for, else the one
// most learners are on now (the earlier on a tie), else the last step seen.
func headline(b Board, current map[string]int, learners []entry, exercises map[string]bool) *Headline {
	ref := b.Step
	if ref == "" {
		best := 0
		for r, n := range current {
			if n > best || n == best && compareRefs(r, ref) < 0 {
				ref, best = r, n
			}
		}
	}
	if ref == "" && len(b.Steps) > 0 {
		ref = b.Steps[len(b.Steps)-1].Ref()
	}
	if ref == "" {
		return nil
	}
	stage, step := parseStepRef(ref)
	h := &Headline{Stage: stage, Step: step, Kind: "step", Of: len(learners), Ref: ref}
	if exercises[step] && stageOfStep(step) == stage {
		h.Kind = "exercise"
	}
	if stageOfStep(step) != stage {
		h.Step = fmt.Sprintf("%s (in stage %d)", step, stage)
	}
	for _, sc := range b.Steps {
		if sc.Ref() == ref {
			h.Green = sc.Green
		}
	}
	return h
}

func compareRefs(a, b string) int {
	sa, pa := parseStepRef(a)
	sb, pb := parseStepRef(b)
	if b == "" {
		return -1
	}
	return cmp.Or(cmp.Compare(sa, sb), compareSteps(pa, pb))
}

func cellOf(stage int, r Stored, ok bool) Cell {
	c := Cell{Stage: stage, State: "none", Text: "·", Title: fmt.Sprintf("no check of stage %d yet", stage)}
	if !ok {
		return c
	}
	res := r.Result
	switch {
	case res.Setup != "":
		c.State, c.Text = "build", "build"
		c.Title = firstLine(res.Setup)
	case res.OK:
		c.State, c.Text = "pass", fmt.Sprintf("%d/%d", res.Passed, res.Total)
		c.Title = fmt.Sprintf("all %d checks of stage %d pass", res.Total, stage)
	default:
		c.State, c.Text = "fail", fmt.Sprintf("%d/%d", res.Passed, res.Total)
		if f, failed := failing(res); failed {
			c.Title = fmt.Sprintf("check %s fails: %s (step %s)", f.ID, f.Title, f.Step)
		}
	}
	c.Title += " · checked " + r.CheckedAt.Local().Format("15:04")
	return c
}

func sortRows(rows []Row, by string) {
	byName := func(a, b Row) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	}
	switch by {
	case "stuck": // the longest on a failing step first
		slices.SortFunc(rows, func(a, b Row) int {
			if a.Stuck != b.Stuck {
				if a.Stuck {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(b.OnStep, a.OnStep), byName(a, b))
		})
	case "progress": // the furthest first
		slices.SortFunc(rows, func(a, b Row) int { return cmp.Or(slices.Compare(b.order, a.order), byName(a, b)) })
	default:
		slices.SortFunc(rows, byName)
	}
}

// stageOfStep is the stage of a step id: 4 for "4.3"; 0 when not a number.
func stageOfStep(step string) int {
	n, _ := atoi(strings.SplitN(step, ".", 2)[0])
	return n
}

func stepNumbers(step string) []int {
	var out []int
	for _, p := range strings.Split(step, ".") {
		n, _ := atoi(p)
		out = append(out, n)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ReportView is a learner's page: their last report card of a stage.
type ReportView struct {
	ID, Name string
	Stages   []int // stages with a result
	Stage    int   // the one shown
	Stored   Stored
	Has      bool
	Report   string
	Position string
	Traces   int
}

func (s *Server) report(id, stageArg string) (ReportView, bool) {
	var e entry
	found := false
	for _, l := range s.roster() {
		if l.ID == id {
			e, found = l, true
		}
	}
	if !found {
		return ReportView{}, false
	}
	v := ReportView{ID: e.ID, Name: e.Name, Stage: e.Stage, Traces: e.Traces}
	for n := 1; n <= repo.Stages; n++ {
		if _, ok := e.Results[n]; ok {
			v.Stages = append(v.Stages, n)
		}
	}
	if n, err := repo.ParseStage(stageArg); err == nil {
		v.Stage = n
	}
	v.Stored, v.Has = e.Results[v.Stage]
	if v.Has {
		v.Report = Report(v.Stored.Result)
	}
	return v, true
}
