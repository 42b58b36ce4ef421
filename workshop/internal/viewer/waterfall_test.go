package viewer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

func TestBarGeometry(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name                string
		offset, dur, total  time.Duration
		wantLeft, wantWidth float64
	}{
		{"whole trace", 0, 400 * ms, 400 * ms, 0, 100},
		{"middle", 100 * ms, 100 * ms, 400 * ms, 25, 25},
		{"instant span stays visible", 200 * ms, 0, 400 * ms, 50, minBarWidth},
		{"sliver at the very end stays inside", 400 * ms, 0, 400 * ms, 100 - minBarWidth, minBarWidth},
		{"zero-length trace", 0, 0, 0, 0, 100},
		{"negative duration (clock skew)", 100 * ms, -5 * ms, 400 * ms, 25, minBarWidth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, width := barGeometry(tt.offset, tt.dur, tt.total)
			assert.InDelta(t, tt.wantLeft, left, 1e-9)
			assert.InDelta(t, tt.wantWidth, width, 1e-9)
		})
	}
}

func TestLabelPlace(t *testing.T) {
	assert.Equal(t, "after", labelPlace(10, 20))
	assert.Equal(t, "inside", labelPlace(0, 100))
	assert.Equal(t, "before", labelPlace(90, 5))
}

func TestTreeOrderSurvivesMissingParentsAndCycles(t *testing.T) {
	at := func(id, parent string, start int) otlp.Span {
		return otlp.Span{SpanID: id, ParentSpanID: parent, Name: id, Start: time.Unix(int64(start), 0)}
	}
	spans := []otlp.Span{
		at("c", "a", 3), at("a", "", 1), at("b", "a", 2), // a tree
		at("o", "gone", 0),               // its parent never arrived
		at("x", "y", 5), at("y", "x", 6), // a cycle: no span starts it
	}
	var got []string
	var depths []int
	for _, n := range treeOrder(spans) {
		got = append(got, n.span.Name)
		depths = append(depths, n.depth)
	}
	assert.Equal(t, []string{"o", "a", "b", "c", "x", "y"}, got, "every span once")
	assert.Equal(t, []int{0, 0, 1, 1, 0, 1}, depths)
	assert.True(t, treeOrder(spans)[0].missingParent)
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 850: "850ns", 1500: "1.5µs", 12_345_678: "12.3ms", 350 * time.Millisecond: "350ms", 12 * time.Millisecond: "12ms",
		1250 * time.Millisecond: "1.25s", 90 * time.Second: "1m30s", -2 * time.Millisecond: "-2ms", 99_960 * time.Microsecond: "100ms",
	} {
		assert.Equal(t, want, formatDuration(d), "%d", d)
	}
}

func TestTicksAreRoundSteps(t *testing.T) {
	labels := func(total time.Duration) []string {
		var out []string
		for _, tk := range ticks(total) {
			out = append(out, tk.Label)
		}
		return out
	}
	assert.Equal(t, []string{"0", "100ms", "200ms", "300ms", "400ms"}, labels(400*time.Millisecond))
	assert.Equal(t, []string{"0", "100ms", "200ms", "300ms"}, labels(376*time.Millisecond))
	assert.Equal(t, []string{"0", "2.5ms", "5ms", "7.5ms", "10ms"}, labels(10*time.Millisecond))
	assert.Equal(t, []string{"0"}, labels(0))

	tk := ticks(400 * time.Millisecond)
	assert.Equal(t, "start", tk[0].Align)
	assert.Equal(t, "end", tk[4].Align, "the last label ends at the axis' edge")
	assert.Empty(t, tk[2].Align)
}

func TestPaletteKeepsTheStageServicesApart(t *testing.T) {
	p := newPalette([]string{"frontend", "dice-roller", "die-service"})
	assert.Equal(t, 0, p.of("dice-roller"))
	assert.Equal(t, 1, p.of("die-service"))
	assert.Equal(t, 2, p.of("frontend"))
	assert.Equal(t, p.of("someone-else"), p.of("someone-else"), "stable for other services too")
}

func TestFormatValue(t *testing.T) {
	assert.Equal(t, `["fair", "risky"]`, formatValue([]any{"fair", "risky"}))
	assert.Equal(t, `[3, 5]`, formatValue([]any{int64(3), int64(5)}))
	assert.Equal(t, `{a=1, b=x}`, formatValue(map[string]any{"b": "x", "a": int64(1)}))
	assert.Equal(t, `0x0aff`, formatValue([]byte{0x0a, 0xff}))
	assert.Equal(t, `null`, formatValue(nil))
	assert.Equal(t, `0.25`, formatValue(0.25))
}
