package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/service"
)

// FuzzRollQuery sends GET /roll?<query> with any raw query string through
// the frontend's real router, its die list (fair, risky) loaded from a fake
// die-service and a fake dice-roller behind it. A bad die is refused with a
// 400 naming the valid values before the dice-roller is called; a good
// request is relayed once, with the die the user sent; nothing answers 5xx;
// no label value comes from the query.
// The seeds are in testdata/fuzz/FuzzRollQuery; a longer run:
//
//	go test -run '^$' -fuzz '^FuzzRollQuery$' -fuzztime 30s ./frontend
func FuzzRollQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawQuery string) {
		s := newStack(t, nil)
		const path = "/roll"
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.URL.RawQuery = rawQuery
		req.RequestURI = req.URL.RequestURI()
		w := httptest.NewRecorder()

		s.frontend.srv.routes().ServeHTTP(w, req)

		// The model: the handler reads the query as url.ParseQuery does (cut to MaxParamBytes),
		// ignoring the pairs it cannot decode.
		q, _ := url.ParseQuery(rawQuery)
		die := service.Cut(q.Get("die")) // what it repeats is cut (service.Param)
		var wantMessage string
		switch {
		case die == "":
			wantMessage = `missing query parameter "die"; valid: fair, risky`
		case die != "fair" && die != "risky":
			wantMessage = fmt.Sprintf("unknown die %q; valid: fair, risky", die)
		}

		body := w.Body.String()
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		calls := s.diceRoller.Calls()
		if wantMessage != "" {
			require.Equal(t, http.StatusBadRequest, w.Code, "query %q: %s", rawQuery, body)
			var e service.ErrorBody
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "not a JSON error: %s", body)
			require.Contains(t, e.Error, wantMessage, "query %q", rawQuery)
			require.Empty(t, calls, "query %q: a bad request reached the dice-roller", rawQuery)
		} else {
			require.Equal(t, http.StatusOK, w.Code, "query %q: %s", rawQuery, body)
			require.Len(t, calls, 1, "query %q: one call to the dice-roller", rawQuery)
			assert.Equal(t, path, calls[0].Path)
			assert.Equal(t, url.Values{"die": {die}}, calls[0].Query, "only the die the user sent is relayed")
		}

		// Every label value comes from a closed set, whatever the query held.
		rec := s.frontend.rec
		// Every route has its series from the start, at 0; this request was
		// counted under its route, never under the raw URL.
		for _, m := range rec.Family(t, "http_requests_total").GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "handler" && m.GetCounter().GetValue() > 0 {
					assert.Equal(t, path, l.GetValue(), "the handler label is the route, never the raw URL")
				}
			}
		}
		dieTypes := []string{"fair", "risky", "unknown"}
		for _, family := range []string{"frontend_button_clicks_total", "frontend_requests_total", "frontend_request_duration_seconds"} {
			for _, v := range rec.LabelValues(t, family, "die_type") {
				assert.Contains(t, dieTypes, v, "%s die_type for query %q", family, rawQuery)
			}
		}
		for _, v := range rec.LabelValues(t, "frontend_requests_total", "status_code") {
			assert.Contains(t, rollStatuses, v, "status_code for query %q", rawQuery)
		}
		for _, v := range countedValues(t, rec, "frontend_requests_total", "status_code") {
			assert.Contains(t, []string{"200", "400"}, v, "the answer counted for query %q", rawQuery)
		}
	})
}
