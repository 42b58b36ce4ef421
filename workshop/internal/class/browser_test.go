package class

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/browsertest"
	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"google.golang.org/protobuf/proto"
)

var roomNames = []string{"Ada Lovelace", "Alan T.", "Barbara L.", "Brian K.", "Claude S.", "Dennis R.", "Donald K.", "Edsger D.",
	"Frances A.", "Grace H.", "Guido v. R.", "Hedy L.", "Ivan S.", "Jean S.", "John B.", "Ken T.", "Leslie L.", "Linus T.",
	"Margaret H.", "Niklaus W.", "Radia P.", "Rob P.", "Robert G.", "Sam", "Sophie W.", "Tim B.-L.", "Tony H.", "Ward C.",
	"Yukihiro M.", "Zoë"}

// seedRoom fills a class with 30 learners at different places of the
// workshop, as at 10:40 on the day.
func seedRoom(t *testing.T, tc *testClass, clk *clock) map[string]JoinResponse {
	t.Helper()
	joined := map[string]JoinResponse{}
	for _, n := range roomNames {
		joined[n] = tc.join(t, n)
	}
	clk.add(50 * time.Minute)
	catalogs := map[int][]check.Check{}
	for n := 1; n <= 4; n++ {
		catalogs[n] = check.Catalog(n)
	}
	for i, n := range roomNames {
		switch {
		case i%10 == 9: // has not checked yet
			continue
		case i%7 == 3: // the stage does not build
			for stage := 1; stage <= 3; stage++ {
				require.Equal(t, http.StatusOK, tc.post(t, joined[n].Token, simulatedStage(stage, len(catalogs[stage])), 40*time.Minute).status)
			}
			require.Equal(t, http.StatusOK, tc.post(t, joined[n].Token,
				[]byte(`{"schema":3,"stage":4,"setup_error":"dice-roller does not build:\nbatch.go:31: undefined: errgroup"}`), time.Duration(i)*time.Minute).status)
			continue
		}
		last := 4 - i%3/2 // most are on stage 4, some still on 3
		for stage := 1; stage <= last; stage++ {
			firstFailing := len(catalogs[stage]) // all pass
			if stage == last {
				firstFailing = (i * 5) % (len(catalogs[stage]) + 3)
			}
			age := time.Duration(45-stage*5-i%5) * time.Minute
			require.Equal(t, http.StatusOK, tc.post(t, joined[n].Token, simulatedStage(stage, firstFailing), age).status)
		}
	}
	return joined
}

// simulatedStage is a result of a stage whose checks pass up to
// firstFailing; beyond, some of the checks the stage itself teaches fail.
func simulatedStage(stage int, firstFailing int) []byte {
	catalog := check.Catalog(stage)
	j := check.JSON{Schema: check.JSONSchema, Stage: stage, Dir: "exercises", Runtime: "local", DurationMS: 4200, Checks: []check.JSONCheck{}}
	for k, c := range catalog {
		jc := check.JSONCheck{ID: c.ID, Title: c.Title, Status: "pass", Step: c.Step}
		if k >= firstFailing && (k == firstFailing || k%2 == 0) && stageOfStep(c.Step) == stage {
			jc.Status, jc.Hint, jc.Expected, jc.Seen = "fail", c.Hint, "what the lesson asks", "what the learner's code did"
		}
		j.Checks = append(j.Checks, jc)
	}
	b, _ := json.Marshal(j)
	return b
}

// TestTheBoardInABrowser shows a class of 30 in headless Chromium: every
// row and cell is there, nothing scrolls sideways, a new result changes
// its cell without a reload, and a row opens the learner's report card.
// The screenshots are kept as test artifacts (and, with
// UPDATE_SCREENSHOTS=1, as the README's picture).
func TestTheBoardInABrowser(t *testing.T) {
	browser := browsertest.New(t, 1600, 1000)
	clk := newClock()
	tc := startClass(t, Options{Now: clk.Now, Exercises: map[string]bool{"4.1": true, "4.3": true, "4.4": true}})
	joined := seedRoom(t, tc, clk)
	body, err := proto.Marshal(simulatedTrace(8))
	require.NoError(t, err)
	for _, n := range []string{"Sam", "Grace H.", "Ken T."} {
		require.Equal(t, http.StatusOK, tc.do(t, http.MethodPost, otlp.TracesPath, joined[n].Token, body, "Content-Type", "application/x-protobuf").status)
	}

	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(tc.URL+"/?sort=stuck"),
		chromedp.WaitVisible(chromedp.CSS("table.board tbody tr")),
	))
	rows, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelectorAll("table.board tbody tr").length`))
	require.NoError(t, err)
	assert.Equal(t, 30, rows)
	titles, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`[...document.querySelectorAll("td.cell.fail")].map(c => c.title)`))
	require.NoError(t, err)
	require.NotEmpty(t, titles)
	for _, title := range titles {
		assert.Regexp(t, `^check [a-z-]+ fails: .+ \(step \d\.\d\) · checked \d\d:\d\d$`, title, "the first failing check on hover")
	}
	overflow, err := chromedp.Run(browser, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
	require.NoError(t, err)
	assert.False(t, overflow, "the board scrolls sideways")
	headline, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.querySelector(".headline").innerText`))
	require.NoError(t, err)
	assert.Regexp(t, `^\d+ of 30 have (exercise|step) \d\.\d( \(in stage \d\))? green; the most common failure now: check [a-z-]+ \(\d+\)`, headline)

	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	browsertest.Screenshot(t, "class-board.png", png)
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("testdata", "class-board.png"), png, 0o644))
	}

	// A new result reaches the open page by itself: no reload.
	_, err = chromedp.Run(browser, chromedp.Evaluate[int](`window.notReloaded = 7`))
	require.NoError(t, err)
	sam := `#learner-sam td.cell[data-stage="4"]`
	before, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.querySelector('`+sam+`').className`))
	require.NoError(t, err)
	require.NotContains(t, before, "pass")
	require.Equal(t, http.StatusOK, tc.post(t, joined["Sam"].Token, simulatedStage(4, 99), 0).status)
	require.NoError(t, chromedp.Do(browser, chromedp.WaitVisible(chromedp.CSS(sam+".pass"))))
	marker, err := chromedp.Run(browser, chromedp.Evaluate[int](`window.notReloaded`))
	require.NoError(t, err)
	assert.Equal(t, 7, marker, "the page updated in place")

	// The row opens Sam's last report card.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Click(chromedp.CSS(`#learner-sam td.name a`)),
		chromedp.WaitVisible(chromedp.CSS("pre.report")),
	))
	report, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.querySelector("pre.report").innerText`))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(report, "workshop check 4  exercises"), report)
	assert.Contains(t, report, "checks pass: stage 4 is done.")
	png, err = chromedp.Run(browser, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	browsertest.Screenshot(t, "class-report.png", png)

	// And Grace's telemetry opens in the viewer.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(tc.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#learner-grace-h a[href="/learners/grace-h/telemetry/"]`)),
		chromedp.Click(chromedp.CSS(`#learner-grace-h a[href="/learners/grace-h/telemetry/"]`)),
		chromedp.WaitVisible(chromedp.CSS("a.trace-link")),
		chromedp.Click(chromedp.CSS("a.trace-link")),
		chromedp.WaitVisible(chromedp.CSS(".waterfall")),
	))
	bars, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelectorAll(".waterfall .bar").length`))
	require.NoError(t, err)
	assert.Equal(t, 8, bars)
}
