package viewer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
)

var stage4Services = map[string]string{
	"frontend":    "http://127.0.0.1:1/metrics",
	"dice-roller": "http://127.0.0.1:1/metrics",
	"die-service": "http://127.0.0.1:1/metrics",
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	if rec.Code == http.StatusOK || rec.Code == http.StatusNotFound {
		assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"), target)
	}
	return rec.Code, string(body)
}

const refreshMeta = `<meta http-equiv="refresh"`

func TestTracesPageListsRecentTraces(t *testing.T) {
	h := viewer.New(filledStore(), viewer.Options{Title: "Stage 4", Metrics: stage4Services})
	code, body := get(t, h, "/")
	require.Equal(t, http.StatusOK, code)

	assert.Contains(t, body, "<title>Recent traces · Stage 4 · workshop telemetry</title>")
	assert.Contains(t, body, refreshMeta, "the list refreshes itself")
	assert.Contains(t, body, `href="/trace/`+asyncTraceID+`"`)
	assert.Contains(t, body, `href="/trace/`+failedTraceID+`"`)
	assert.Contains(t, body, "GET /roll")
	for service := range stage4Services {
		assert.Contains(t, body, service)
	}
	assert.Contains(t, body, `<td class="num">10</td>`, "span count")
	assert.Contains(t, body, `<td class="num">400ms</td>`, "duration")
	assert.Equal(t, 1, strings.Count(body, `class="has-error"`), "only the failed trace is marked")
	assert.Contains(t, body, `class="err-mark"`)
	assert.Contains(t, body, `aria-current="page">Traces`, "nav shows the current page")
}

func TestTracesPageFiltersByService(t *testing.T) {
	store := filledStore()
	store.AddSpans(otlp.Span{TraceID: strings.Repeat("ab", 16), SpanID: "0000000000000001", Name: "GET /healthz", Service: "other",
		Start: epoch, End: epoch.Add(1)})
	h := viewer.New(store, viewer.Options{})

	_, body := get(t, h, "/?service=other")
	assert.Contains(t, body, "GET /healthz")
	assert.NotContains(t, body, asyncTraceID)

	_, body = get(t, h, "/?service=nobody")
	assert.Contains(t, body, "No traces from nobody yet")
}

func TestTracesPageWhenEmpty(t *testing.T) {
	code, body := get(t, viewer.New(otlp.NewStore(otlp.Limits{}), viewer.Options{}), "/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "No traces yet")
}

// bar is a waterfall row as the page draws it.
type bar struct {
	name        string
	left, width float64
}

var rowRE = regexp.MustCompile(`data-span-name="([^"]*)" data-span-id="[0-9a-f]*" data-left="([0-9.]+)" data-width="([0-9.]+)"`)

func bars(t *testing.T, body string) []bar {
	t.Helper()
	var out []bar
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		left, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		width, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err)
		out = append(out, bar{m[1], left, width})
	}
	return out
}

func TestTracePageDrawsTheWaterfall(t *testing.T) {
	h := viewer.New(filledStore(), viewer.Options{Title: "Stage 4", Metrics: stage4Services})
	code, body := get(t, h, "/trace/"+asyncTraceID)
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, refreshMeta, "a refresh would close the span being read")

	rows := bars(t, body)
	var names []string
	for _, r := range rows {
		names = append(names, r.name)
	}
	assert.Equal(t, []string{
		"GET /roll", "GET /roll-async", "GET /roll-async", "GET /dice", "GET /dice",
		"async_roll_0", "async_roll_1", "async_roll_2", "async_roll_3", "async_roll_4",
	}, names, "tree order: each span under its parent, siblings by start time")

	// The trace lasts 400 ms from its first span: a bar's numbers are its
	// start and length in percent of that.
	byName := map[string]bar{}
	for _, r := range rows {
		byName[r.name] = r
	}
	assert.Equal(t, bar{"GET /roll", 0, 100}, byName["GET /roll"])
	assert.Equal(t, bar{"async_roll_1", 8.25, 87.5}, byName["async_roll_1"])

	var async []bar
	for _, r := range rows {
		if strings.HasPrefix(r.name, "async_roll_") {
			async = append(async, r)
		}
	}
	require.Len(t, async, 5)
	for i, a := range async {
		for _, b := range async[i+1:] {
			assert.True(t, a.left < b.left+b.width && b.left < a.left+a.width,
				"%s [%.3f, +%.3f] and %s [%.3f, +%.3f] must overlap", a.name, a.left, a.width, b.name, b.left, b.width)
		}
	}

	assert.Contains(t, body, `style="--depth: 4"`, "the die-service span, four levels down, is indented")
	assert.Contains(t, body, "async.batch_size</th><td>5</td><td class=\"type\">int</td>", "attributes with their types")
	assert.Contains(t, body, `<a href="/logs?trace=`+asyncTraceID+`">`, "from the trace to its logs")
	assert.NotContains(t, body, `class="span-row is-error"`)
}

func TestTracePageMarksErrors(t *testing.T) {
	_, body := get(t, viewer.New(filledStore(), viewer.Options{}), "/trace/"+failedTraceID)
	assert.Equal(t, 1, strings.Count(body, `class="span-row is-error"`))
	assert.Contains(t, body, "Error: risky die failed")
	assert.Contains(t, body, `1 with errors`)
}

func TestTracePageShowsSpansWithoutParent(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	spans := stage4Trace(asyncTraceID, -1)
	store.AddSpans(spans[2:]...) // the frontend's spans have not arrived
	_, body := get(t, viewer.New(store, viewer.Options{}), "/trace/"+asyncTraceID)
	assert.Len(t, bars(t, body), 8)
	assert.Contains(t, body, "no parent")
}

func TestUnknownPagesAre404(t *testing.T) {
	h := viewer.New(filledStore(), viewer.Options{})
	for _, target := range []string{"/trace/" + strings.Repeat("0", 31) + "1", "/trace/nonsense", "/nope"} {
		code, body := get(t, h, target)
		assert.Equal(t, http.StatusNotFound, code, target)
		assert.Contains(t, body, "Not found", target)
		assert.Contains(t, body, `href="/logs"`, "the 404 page keeps the nav: %s", target)
	}
	code, _ := get(t, h, "/trace/")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestPagesEscapeTelemetry(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	evil := `<script>alert("x")</script>`
	store.AddSpans(otlp.Span{
		TraceID: asyncTraceID, SpanID: "0000000000000001", Name: evil, Service: evil,
		Start: epoch, End: epoch.Add(1000), Attributes: map[string]any{evil: evil},
	})
	store.AddLogLine(evil, []byte(evil))
	h := viewer.New(store, viewer.Options{})
	for _, target := range []string{"/", "/trace/" + asyncTraceID, "/logs", "/logs?service=" + url.QueryEscape(evil)} {
		_, body := get(t, h, target)
		assert.NotContains(t, body, "<script>", target)
		assert.Contains(t, body, "&lt;script&gt;", target)
	}
}

func TestLogsPage(t *testing.T) {
	h := viewer.New(filledStore(), viewer.Options{Title: "Stage 4", Metrics: stage4Services})

	code, body := get(t, h, "/logs")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, refreshMeta)
	assert.Contains(t, body, "async roll completed")
	assert.Contains(t, body, `<span class="key">roll_value</span>=4`)
	assert.Contains(t, body, `<a class="trace-link" href="/trace/`+asyncTraceID+`"`, "a log line links to its trace")
	assert.Contains(t, body, `class="level-ERROR"`)
	assert.Contains(t, body, "panic: &lt;b&gt;not html&lt;/b&gt;", "plain lines are shown, escaped")
	assert.Contains(t, body, `href="/logs?service=die-service"`, "every known service has a tab, even before it logs")

	_, body = get(t, h, "/logs?service=frontend")
	assert.Contains(t, body, "frontend started")
	assert.NotContains(t, body, "async roll completed")

	_, body = get(t, h, "/logs?trace="+strings.ToUpper(failedTraceID))
	assert.Contains(t, body, "async batch failed")
	assert.NotContains(t, body, "async roll completed")
	assert.NotContains(t, body, "frontend started")
}

func TestStylesheetIsServed(t *testing.T) {
	rec := httptest.NewRecorder()
	viewer.New(filledStore(), viewer.Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/style.css", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/css")
	assert.Contains(t, rec.Body.String(), ".waterfall")
}
