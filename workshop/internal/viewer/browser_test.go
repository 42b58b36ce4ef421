package viewer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/browsertest"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
)

// box is an element's bounding box in CSS pixels, and whether the element
// is what the browser finds at a point inside it (nothing covers it).
type box struct {
	Name      string  `json:"name"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	W         float64 `json:"w"`
	H         float64 `json:"h"`
	OnTop     bool    `json:"onTop"`
	PageWidth float64 `json:"pageWidth"`
}

const asyncBarsJS = `[...document.querySelectorAll('.span-row')]
  .filter(row => row.dataset.spanName.startsWith('async_roll_'))
  .map(row => {
    const bar = row.querySelector('.bar');
    const r = bar.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + 2, r.top + r.height / 2);
    return {name: row.dataset.spanName, x: r.left, y: r.top, w: r.width, h: r.height,
            onTop: hit === bar, pageWidth: document.documentElement.clientWidth};
  })`

func newBrowser(t *testing.T) context.Context { return browsertest.New(t, 1400, 900) }

func screenshot(t *testing.T, name string, png []byte) { browsertest.Screenshot(t, name, png) }

// TestWaterfallInABrowser loads the stage-4 trace in headless Chromium and
// checks what a learner sees: five async bars, visible, on separate rows,
// overlapping in time. The screenshots are kept as artifacts.
func TestWaterfallInABrowser(t *testing.T) {
	browser := newBrowser(t)
	srv := httptest.NewServer(viewer.New(filledStore(), viewer.Options{Title: "Stage 4", Metrics: stage4Services}))
	defer srv.Close()

	asyncRow := chromedp.CSS(`details[data-span-name="async_roll_1"]`)
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(srv.URL+"/trace/"+asyncTraceID),
		chromedp.WaitVisible(chromedp.CSS(".waterfall")),
	))
	bars, err := chromedp.Run(browser, chromedp.Evaluate[[]box](asyncBarsJS))
	require.NoError(t, err)
	overview, err := chromedp.Run(browser, chromedp.Screenshot(chromedp.CSS("main")))
	require.NoError(t, err)
	screenshot(t, "waterfall.png", overview)

	// Open one span the way a learner does: a click, no script needed.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Click(asyncRow+" > summary"),
		chromedp.WaitVisible(asyncRow+" .span-details"),
	))
	details, err := chromedp.Run(browser, chromedp.Screenshot(chromedp.CSS("main")))
	require.NoError(t, err)
	screenshot(t, "waterfall-details.png", details)

	require.Len(t, bars, 5)
	for i, b := range bars {
		assert.Positive(t, b.W, "%s has a width", b.Name)
		assert.Positive(t, b.H, "%s has a height", b.Name)
		assert.True(t, b.OnTop, "%s is not covered by anything", b.Name)
		assert.GreaterOrEqual(t, b.X, 0.0)
		assert.LessOrEqual(t, b.X+b.W, b.PageWidth, "%s fits on the page", b.Name)
		if i > 0 {
			assert.Greater(t, b.Y, bars[i-1].Y, "%s is on its own row, below %s", b.Name, bars[i-1].Name)
		}
	}
	// Concurrency, as the eye sees it: some instant lies inside every bar.
	latestStart, earliestEnd := bars[0].X, bars[0].X+bars[0].W
	for _, b := range bars[1:] {
		latestStart, earliestEnd = max(latestStart, b.X), min(earliestEnd, b.X+b.W)
	}
	assert.Less(t, latestStart+10, earliestEnd, "the five async bars overlap by more than 10 px")
}

// TestListPagesInABrowser renders the other pages and checks none is wider
// than the window (a long log line or label must wrap, not scroll).
func TestListPagesInABrowser(t *testing.T) {
	browser := newBrowser(t)
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(diceRollerMetrics))
	}))
	defer metrics.Close()
	store := filledStore()
	store.AddLogLine("dice-roller", []byte(`{"level":"INFO","message":"`+strings.Repeat("a very long message ", 40)+`"}`))
	srv := httptest.NewServer(viewer.New(store, viewer.Options{Title: "Stage 4", Metrics: map[string]string{
		"dice-roller": metrics.URL + "/metrics",
		"die-service": "http://127.0.0.1:1/metrics", // down
		"frontend":    metrics.URL + "/metrics",
	}}))
	defer srv.Close()

	for name, path := range map[string]string{"traces.png": "/", "logs.png": "/logs", "metrics.png": "/metrics"} {
		require.NoError(t, chromedp.Do(browser, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))))
		overflow, err := chromedp.Run(browser, chromedp.Evaluate[bool](
			`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
		require.NoError(t, err)
		assert.False(t, overflow, "%s scrolls sideways", path)
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		screenshot(t, name, png)
	}
}
