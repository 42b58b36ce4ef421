package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/service"
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

func TestPageListsTheDiceOfTheDieService(t *testing.T) {
	s := newStack(t, nil)

	status, body, header := get(t, s.frontend.URL+"/")

	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/html; charset=utf-8", header.Get("Content-Type"))
	doc := parsePage(t, body)
	assert.Equal(t, []option{{"fair", "fair"}, {"risky", "risky"}}, dieOptions(t, doc))
	assert.Nil(t, byID(doc, "dice-error"), "no warning while the die-service answers")

	async := byID(doc, "async")
	require.NotNil(t, async, "no async checkbox")
	typ, _ := attrOf(async, "type")
	assert.Equal(t, "checkbox", typ)
	times := byID(doc, "times")
	require.NotNil(t, times, "no number-of-rolls input")
	for key, want := range map[string]string{"type": "number", "min": "1", "max": "20"} {
		got, _ := attrOf(times, key)
		assert.Equal(t, want, got, "times %s", key)
	}
	_, disabled := attrOf(times, "disabled")
	assert.True(t, disabled, "the number of rolls is disabled until async is ticked")
	require.NotNil(t, byID(doc, "roll"), "no Roll button")
	assert.Empty(t, s.diceRoller.Calls(), "showing the page rolls nothing")
}

func TestPageWarnsWhenTheDieServiceIsDown(t *testing.T) {
	fe := newTestFrontend(t, config{diceRollerURL: closedURL(t), dieServiceURL: closedURL(t)})

	status, body, _ := get(t, fe.URL+"/")

	require.Equal(t, http.StatusOK, status, "the page still renders")
	doc := parsePage(t, body)
	warning := byID(doc, "dice-error")
	require.NotNil(t, warning, "no warning on the page")
	assert.Contains(t, textOf(warning), "die-service cannot be reached")
	assert.Empty(t, dieOptions(t, doc))

	unavailable := fe.rec.LogsWithMessage(t, "die list unavailable")
	require.Len(t, unavailable, 1)
	assert.Equal(t, "WARNING", unavailable[0]["level"])
}

func TestPageRecoversWhenTheDieServiceComesBack(t *testing.T) {
	var up atomic.Bool
	dieService := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			service.WriteError(w, http.StatusServiceUnavailable, "starting")
			return
		}
		service.WriteJSON(w, http.StatusOK, map[string][]string{"identifiers": {"fair", "risky"}})
	}))
	t.Cleanup(dieService.Close)
	fe := newTestFrontend(t, config{diceRollerURL: closedURL(t), dieServiceURL: dieService.URL})

	_, body, _ := get(t, fe.URL+"/")
	assert.NotNil(t, byID(parsePage(t, body), "dice-error"))

	up.Store(true)
	_, body, _ = get(t, fe.URL+"/")
	doc := parsePage(t, body)
	assert.Nil(t, byID(doc, "dice-error"), "the page asks the die-service again")
	assert.Equal(t, []option{{"fair", "fair"}, {"risky", "risky"}}, dieOptions(t, doc))
}

func TestPageEscapesDieNames(t *testing.T) {
	// A die-service is another service, not a trusted template author.
	const script = `<script>alert(1)</script>`
	const attribute = `x" onmouseover="alert(2)`
	fe := newTestFrontend(t, config{
		diceRollerURL: closedURL(t),
		dieServiceURL: newFakeDieService(t, script, attribute).URL,
	})

	_, body, _ := get(t, fe.URL+"/")

	assert.NotContains(t, body, script, "the name reaches the page unescaped")
	assert.NotContains(t, body, `onmouseover="alert(2)`)
	doc := parsePage(t, body)
	assert.Equal(t, []option{{script, script}, {attribute, attribute}}, dieOptions(t, doc),
		"the names are shown as text, exactly as the die-service wrote them")
	scripts := elements(doc, "script")
	require.Len(t, scripts, 1, "the only script is the page's own")
	src, _ := attrOf(scripts[0], "src")
	assert.Equal(t, "/static/app.js", src)
	for _, o := range elements(doc, "option") {
		_, injected := attrOf(o, "onmouseover")
		assert.False(t, injected, "an attribute was injected into %v", o.Attr)
	}
}

func TestPageEscapesDieNamesFromTheSpecsFile(t *testing.T) {
	// The same names, end to end: written in the real die-service's specs
	// file, listed by it as JSON, and shown by the frontend as text.
	const script = `<script>alert(1)</script>`
	const attribute = `x" onmouseover="alert(2)`
	specs, err := json.Marshal(map[string]any{
		"fair":    map[string]any{"faces": []int{1, 2, 3, 4, 5, 6}},
		script:    map[string]any{"faces": []int{1}},
		attribute: map[string]any{"faces": []int{2}},
	})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "dice.json")
	require.NoError(t, os.WriteFile(file, specs, 0o644))
	dieService := startService(t, "die-service", "DIE_SPECS_FILE="+file)
	fe := newTestFrontend(t, config{diceRollerURL: closedURL(t), dieServiceURL: dieService})

	_, body, _ := get(t, fe.URL+"/")

	assert.NotContains(t, body, script, "the name reaches the page unescaped")
	assert.NotContains(t, body, `onmouseover="alert(2)`)
	doc := parsePage(t, body)
	assert.Equal(t, []option{{script, script}, {"fair", "fair"}, {attribute, attribute}}, dieOptions(t, doc),
		"the names are shown as text, exactly as the specs file wrote them")
	scripts := elements(doc, "script")
	require.Len(t, scripts, 1, "the only script is the page's own")
	src, _ := attrOf(scripts[0], "src")
	assert.Equal(t, "/static/app.js", src)
	for _, o := range elements(doc, "option") {
		_, injected := attrOf(o, "onmouseover")
		assert.False(t, injected, "an attribute was injected into %v", o.Attr)
	}
}
