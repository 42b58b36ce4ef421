package main

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageOutput is what the page's output box shows.
type pageOutput struct {
	Summary string `json:"summary"`
	Status  string `json:"status"`
	Body    string `json:"body"`
}

// clickRoll presses Roll and waits for the answer to be shown.
func clickRoll(t *testing.T, ctx context.Context) pageOutput {
	t.Helper()
	// Clear the status first: the "Status ..." that the poll waits for is
	// then this roll's, never the previous one's.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status").textContent = ""`),
		chromedp.Click(chromedp.ID("roll")),
		chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.startsWith("Status ")`,
			chromedp.WithPollingTimeout(20*time.Second)),
	), "the page showed no answer")
	out, err := chromedp.Run(ctx, chromedp.Evaluate[pageOutput](`({
		summary: document.getElementById("summary").textContent,
		status: document.getElementById("status").textContent,
		body: document.getElementById("body").textContent,
	})`))
	require.NoError(t, err)
	return out
}

func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	require.NoError(t, err, expression)
	return v
}

func setValue(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID(id), value)))
}

// lastCall is the last request the fake dice-roller received.
func lastCall(t *testing.T, f *fakeDiceRoller) backendCall {
	t.Helper()
	calls := f.Calls()
	require.NotEmpty(t, calls, "the dice-roller was not called")
	return calls[len(calls)-1]
}

func TestBrowserRollsThroughThePage(t *testing.T) {
	// fair rolls like the real dice-roller; risky fails, as it does one roll
	// in ten.
	s := newStack(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("die") == "risky" {
			answerWith(http.StatusInternalServerError, `{"error": "rolling risky failed: the die rolled off the table"}`)(w, r)
			return
		}
		answerLikeDiceRoller(w, r)
	})
	ctx := newBrowser(t, 60*time.Second)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.frontend.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("roll")),
	))

	t.Run("the page of stage 2", func(t *testing.T) {
		assert.Equal(t, "Dice — stage 2", evaluate[string](t, ctx, `document.title`))
		options := evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll("#die option"), o => o.value + "=" + o.textContent)`)
		assert.Equal(t, []string{"fair=fair", "risky=risky"}, options, "the dropdown lists the frontend's dice")
		assert.Equal(t, "Press Roll.", evaluate[string](t, ctx, `document.getElementById("summary").textContent`))
		assert.False(t, evaluate[bool](t, ctx, `document.getElementById("async") !== null`), "no async checkbox in stage 2")
	})

	t.Run("one roll", func(t *testing.T) {
		setValue(t, ctx, "die", "fair")
		out := clickRoll(t, ctx)

		assert.Equal(t, "Status 200", out.Status)
		assert.JSONEq(t, `{"roll": 4}`, out.Body, "the page shows the dice-roller's body")
		assert.Equal(t, "Rolled 4", out.Summary)
		call := lastCall(t, s.diceRoller)
		assert.Equal(t, "/roll", call.Path)
		assert.Equal(t, url.Values{"die": {"fair"}}, call.Query)
		saveScreenshot(t, ctx, "roll")
	})

	t.Run("an error answer", func(t *testing.T) {
		setValue(t, ctx, "die", "risky")

		out := clickRoll(t, ctx)

		assert.Equal(t, "Status 500", out.Status)
		assert.Equal(t, "Error: rolling risky failed: the die rolled off the table", out.Summary)
		assert.JSONEq(t, `{"error": "rolling risky failed: the die rolled off the table"}`, out.Body)
		call := lastCall(t, s.diceRoller)
		assert.Equal(t, url.Values{"die": {"risky"}}, call.Query, "the die chosen in the dropdown")
		saveScreenshot(t, ctx, "error")
	})
}
