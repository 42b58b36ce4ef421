package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/telemetry/telemetrytest"
)

// The page is parsed as a browser would parse it, so the tests see the
// elements a user sees, not strings that merely look like them.

func parsePage(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	require.NoError(t, err)
	return doc
}

// elements returns the elements called tag under n, in document order.
func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == tag {
			out = append(out, d)
		}
	}
	return out
}

// byID returns the element with the id, or nil.
func byID(n *html.Node, id string) *html.Node {
	for d := range n.Descendants() {
		if v, ok := attrOf(d, "id"); ok && d.Type == html.ElementNode && v == id {
			return d
		}
	}
	return nil
}

func attrOf(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

type option struct{ Value, Text string }

// dieOptions lists the options of the die dropdown.
func dieOptions(t *testing.T, doc *html.Node) []option {
	t.Helper()
	sel := byID(doc, "die")
	require.NotNil(t, sel, "the page has no #die dropdown")
	require.Equal(t, "select", sel.Data)
	var out []option
	for _, o := range elements(sel, "option") {
		v, _ := attrOf(o, "value")
		out = append(out, option{Value: v, Text: textOf(o)})
	}
	return out
}

func TestPageListsTheDice(t *testing.T) {
	s := newStack(t, nil)

	status, body, header := get(t, s.frontend.URL+"/")

	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/html; charset=utf-8", header.Get("Content-Type"))
	doc := parsePage(t, body)
	assert.Equal(t, []option{{"fair", "fair"}, {"risky", "risky"}}, dieOptions(t, doc),
		"stage 2's frontend knows fair and risky itself")

	titles := elements(doc, "title")
	require.Len(t, titles, 1)
	assert.Equal(t, "Dice — stage 2", textOf(titles[0]))
	assert.Contains(t, body, "Stage 2 · frontend → dice-roller")

	roll := byID(doc, "roll")
	require.NotNil(t, roll, "no Roll button")
	assert.Equal(t, "button", roll.Data)
	assert.Equal(t, "Roll", textOf(roll))
	for _, id := range []string{"status", "body", "summary"} {
		assert.NotNil(t, byID(doc, id), "the output box has no #%s", id)
	}
	for _, id := range []string{"async", "times", "dice-error"} {
		assert.Nil(t, byID(doc, id), "stage 2's page has no #%s", id)
	}
	assert.Empty(t, s.diceRoller.Calls(), "showing the page rolls nothing")
}

func TestPageEscapesDieNames(t *testing.T) {
	// The list is fixed in stage 2, but it comes from the die-service from
	// stage 3 on: the template must treat the names as text.
	const script = `<script>alert(1)</script>`
	const attribute = `x" onmouseover="alert(2)`
	rec := telemetrytest.New(t, serviceName)
	srv := newServer(config{diceRollerURL: closedURL(t)}, rec.Telemetry)
	srv.dice = []string{script, attribute}
	fe := httptest.NewServer(srv.routes())
	t.Cleanup(fe.Close)

	_, body, _ := get(t, fe.URL+"/")

	assert.NotContains(t, body, script, "the name reaches the page unescaped")
	assert.NotContains(t, body, `onmouseover="alert(2)`)
	doc := parsePage(t, body)
	assert.Equal(t, []option{{script, script}, {attribute, attribute}}, dieOptions(t, doc),
		"the names are shown as text, exactly as written")
	scripts := elements(doc, "script")
	require.Len(t, scripts, 1, "the only script is the page's own")
	src, _ := attrOf(scripts[0], "src")
	assert.Equal(t, "/static/app.js", src)
	for _, o := range elements(doc, "option") {
		_, injected := attrOf(o, "onmouseover")
		assert.False(t, injected, "an attribute was injected into %v", o.Attr)
	}
}

func TestTheScriptCallsOnlyRoll(t *testing.T) {
	s := newStack(t, nil)
	status, script, header := get(t, s.frontend.URL+"/static/app.js")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/javascript; charset=utf-8", header.Get("Content-Type"))
	assert.Contains(t, script, `"/roll"`)
	assert.Contains(t, script, `"Status " + response.status`, "the output box shows the status code")
	assert.NotContains(t, script, "roll-async", "stage 2 has no async rolling")
	assert.False(t, strings.Contains(script, "times"), "stage 2 has no number of rolls")
}
