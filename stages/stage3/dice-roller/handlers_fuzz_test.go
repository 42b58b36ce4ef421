package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/stages/stage3/internal/service"
)

// FuzzRollQuery sends GET /roll?<query> with any raw query string through
// the real router, backed by a fake die-service that knows fair, risky and
// doomed. Whatever the query, the answer is the one the parameters call for:
// 400 naming the valid values for a bad die, a roll otherwise, and a 500 only
// for the designed failure of doomed (risky is made never to fail here). No
// label value ever comes from the query.
// The seeds are in testdata/fuzz/FuzzRollQuery; a longer run:
//
//	go test -run '^$' -fuzz '^FuzzRollQuery$' -fuzztime 30s ./dice-roller
func FuzzRollQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawQuery string) {
		dieService := newFakeDieService(t)
		// 0.5: no delay (maxDelay is 0), and only a die with an error rate
		// above one half (doomed) fails.
		env := newRollerEnv(t, testConfig(dieService.URL), fixedRandom(0.5))
		const path = "/roll"
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.URL.RawQuery = rawQuery
		req.RequestURI = req.URL.RequestURI()
		w := httptest.NewRecorder()

		env.srv.routes().ServeHTTP(w, req)

		// The model: the handler reads the query as url.ParseQuery does (cut to MaxParamBytes),
		// ignoring the pairs it cannot decode.
		q, _ := url.ParseQuery(rawQuery)
		die := service.Cut(q.Get("die")) // what it repeats is cut (service.Param)
		_, knownDie := testDice[die]
		wantStatus := http.StatusOK
		var wantMessage string
		switch {
		case die == "":
			wantStatus, wantMessage = http.StatusBadRequest, `missing query parameter "die"; valid: a die identifier known to the die-service`
		case !knownDie:
			wantStatus, wantMessage = http.StatusBadRequest, fmt.Sprintf("unknown die %q; valid: doomed, fair, risky", die)
		case testDice[die].ErrorRate > 0.5:
			wantStatus, wantMessage = http.StatusInternalServerError, "rolling "+die+" failed"
		}

		body := w.Body.String()
		require.Equal(t, wantStatus, w.Code, "query %q: %s", rawQuery, body)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		if wantStatus != http.StatusOK {
			var e service.ErrorBody
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "not a JSON error: %s", body)
			require.Contains(t, e.Error, wantMessage, "query %q", rawQuery)
		} else {
			var r map[string]int
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r), body)
			require.Contains(t, testDice[die].Faces, r["roll"], body)
		}

		// Every label value comes from a closed set, whatever the query held.
		rec := env.rec
		// Every route has its series from the start, at 0; this request was
		// counted under its route, never under the raw URL.
		for _, m := range rec.Family(t, "http_requests_total").GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "handler" && m.GetCounter().GetValue() > 0 {
					assert.Equal(t, path, l.GetValue(), "the handler label is the route, never the raw URL")
				}
			}
		}
		known := func(values []string, extra ...string) {
			t.Helper()
			for _, v := range values {
				_, ok := testDice[v]
				assert.True(t, ok || slices.Contains(extra, v), "label value %q for query %q", v, rawQuery)
			}
		}
		known(rec.LabelValues(t, "dice_rolls_total", "die_type"))
		known(rec.LabelValues(t, "die_service_requests_total", "identifier"), "unknown")
		for _, v := range rec.LabelValues(t, "http_requests_total", "status") {
			assert.True(t, strings.HasSuffix(v, "xx"), "status class %q", v)
		}
	})
}
