package viewer

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// minBarWidth keeps a very short span visible as a sliver (percent).
const minBarWidth = 0.4

// maxIndent caps the indentation so a deep trace keeps room for names.
const maxIndent = 12

// waterfall is a trace laid out on one time axis: every bar's position is
// computed here, so the page needs no script and tests can check the
// geometry (that concurrent spans really overlap).
type waterfall struct {
	ID       string
	Root     otlp.Span
	Start    time.Time
	Duration time.Duration
	Services []serviceTag
	Errors   int
	Rows     []row
	Ticks    []tick
}

// row is one span: its place in the tree and its bar.
type row struct {
	Span          otlp.Span
	Depth         int
	Indent        int           // Depth, capped for display
	Offset        time.Duration // from the trace's start
	Left, Width   float64       // the bar, in percent of the trace's duration
	Label         string        // where the duration text goes: "after", "inside" or "before" the bar
	Color         int
	MissingParent bool // its parent span has not been received
}

// End is where the bar ends, in percent.
func (r row) End() float64 { return r.Left + r.Width }

// FromEnd and FromStart are the distances from the axis' right edge to the
// bar's end and start, in percent, to right-align a label inside or
// before the bar.
func (r row) FromEnd() float64   { return 100 - r.End() }
func (r row) FromStart() float64 { return 100 - r.Left }

// tick is a label on the time axis.
type tick struct {
	Pos   float64 // percent
	Label string
	Align string // "start", "end" or "" (centred), so edge labels stay inside
}

// ticks marks the axis at round steps (1, 2, 2.5 or 5 times a power of
// ten), which read better than quarters of an odd total.
func ticks(total time.Duration) []tick {
	if total <= 0 {
		return []tick{{Pos: 0, Label: "0", Align: "start"}}
	}
	raw := float64(total) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	var step float64
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	var out []tick
	for i := 0; float64(i)*step <= float64(total)*(1+1e-9); i++ {
		at := time.Duration(float64(i) * step)
		t := tick{Pos: min(100*float64(at)/float64(total), 100), Label: formatDuration(at)}
		switch {
		case i == 0:
			t.Align = "start"
		case t.Pos > 92:
			t.Align = "end"
		}
		out = append(out, t)
	}
	return out
}

func (v *viewer) layout(tr otlp.Trace) waterfall {
	w := waterfall{
		ID:       tr.ID,
		Root:     tr.Root(),
		Start:    tr.Start(),
		Duration: tr.Duration(),
		Services: v.colors.tags(tr.Services()),
		Errors:   errorCount(tr.Spans),
	}
	w.Ticks = ticks(w.Duration)
	for _, n := range treeOrder(tr.Spans) {
		r := row{
			Span:          n.span,
			Depth:         n.depth,
			Indent:        min(n.depth, maxIndent),
			Offset:        n.span.Start.Sub(w.Start),
			Color:         v.colors.of(n.span.Service),
			MissingParent: n.missingParent,
		}
		r.Left, r.Width = barGeometry(r.Offset, n.span.Duration(), w.Duration)
		r.Label = labelPlace(r.Left, r.Width)
		w.Rows = append(w.Rows, r)
	}
	return w
}

// labelPlace puts a bar's duration text after the bar when there is room,
// else inside it when the bar is wide enough, else before it.
func labelPlace(left, width float64) string {
	switch {
	case left+width <= 85:
		return "after"
	case width >= 15:
		return "inside"
	}
	return "before"
}

// barGeometry places a span of length dur starting offset after the
// trace's start on a 0–100 axis of the trace's total length.
func barGeometry(offset, dur, total time.Duration) (left, width float64) {
	if total <= 0 {
		return 0, 100
	}
	left = 100 * float64(offset) / float64(total)
	width = 100 * float64(max(dur, 0)) / float64(total)
	left = min(max(left, 0), 100)
	width = max(width, minBarWidth)
	if left+width > 100 { // only a widened sliver at the very end overflows
		left = max(100-width, 0)
		width = min(width, 100)
	}
	return left, width
}

type treeNode struct {
	span          otlp.Span
	depth         int
	missingParent bool
}

// treeOrder lists spans depth first, each span's children by start time,
// as tracing UIs draw them. Spans whose parent has not arrived are shown
// as roots, flagged: in stage 4 that is what a goroutine started with the
// wrong context looks like while its siblings sit under the request.
func treeOrder(spans []otlp.Span) []treeNode {
	byStart := slices.Clone(spans)
	slices.SortStableFunc(byStart, func(a, b otlp.Span) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Name, b.Name))
	})
	present := make(map[string]bool, len(spans))
	for _, s := range spans {
		present[s.SpanID] = true
	}
	children := make(map[string][]otlp.Span)
	var roots []otlp.Span
	for _, s := range byStart {
		if s.ParentSpanID == "" || !present[s.ParentSpanID] {
			roots = append(roots, s)
		} else {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}

	out := make([]treeNode, 0, len(spans))
	visited := make(map[string]bool, len(spans))
	var walk func(s otlp.Span, depth int)
	walk = func(s otlp.Span, depth int) {
		if visited[s.SpanID] {
			return
		}
		visited[s.SpanID] = true
		out = append(out, treeNode{span: s, depth: depth, missingParent: s.ParentSpanID != "" && !present[s.ParentSpanID]})
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// Parents that form a cycle have no root to be reached from: show them
	// anyway rather than lose them.
	for _, s := range byStart {
		walk(s, 0)
	}
	return out
}
