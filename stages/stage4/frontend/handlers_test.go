package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// errorMessage decodes an {"error": "..."} answer, failing on any other shape.
func errorMessage(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoErrorf(t, json.Unmarshal([]byte(body), &e), "not a JSON error: %s", body)
	require.NotEmptyf(t, e.Error, "no error message in %s", body)
	return e.Error
}

func TestRollRelaysTheDiceRollersStatusAndBody(t *testing.T) {
	// The bodies have unusual spacing on purpose: the frontend must relay the
	// dice-roller's bytes, not decode and re-encode them.
	tests := []struct {
		name      string
		target    string
		status    int
		body      string
		wantPath  string
		wantQuery url.Values
	}{
		{
			name: "roll", target: "/roll?die=fair",
			status: http.StatusOK, body: `{"roll":  4}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"fair"}},
		},
		{
			name: "roll-async", target: "/roll-async?die=fair&times=5",
			status: http.StatusOK, body: `{"total": 18, "rolls": [3,5,2,6,2], "count": 5}`,
			wantPath: "/roll-async", wantQuery: url.Values{"die": {"fair"}, "times": {"5"}},
		},
		{
			name: "risky roll failed", target: "/roll?die=risky",
			status: http.StatusInternalServerError, body: `{"error": "rolling risky failed: the die fell off the table"}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"risky"}},
		},
		{
			name: "async batch failed", target: "/roll-async?die=risky&times=4",
			status: http.StatusInternalServerError, body: `{"error": "rolling risky failed: roll 2 failed"}`,
			wantPath: "/roll-async", wantQuery: url.Values{"die": {"risky"}, "times": {"4"}},
		},
		{
			name: "die-service unavailable", target: "/roll?die=fair",
			status: http.StatusServiceUnavailable, body: `{"error": "cannot look up die \"fair\": die-service unavailable"}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"fair"}},
		},
		{
			// The dice-roller can know less than the frontend's copy of the list.
			name: "dice-roller refuses the die", target: "/roll-async?die=risky&times=2",
			status: http.StatusBadRequest, body: `{"error": "unknown die \"risky\"; valid: fair"}`,
			wantPath: "/roll-async", wantQuery: url.Values{"die": {"risky"}, "times": {"2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, answerWith(tt.status, tt.body))

			status, body, header := get(t, s.frontend.URL+tt.target)

			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.body, body, "the body is relayed verbatim")
			assert.Equal(t, "application/json", header.Get("Content-Type"))
			calls := s.diceRoller.Calls()
			require.Len(t, calls, 1, "one call to the dice-roller")
			assert.Equal(t, tt.wantPath, calls[0].Path)
			assert.Equal(t, tt.wantQuery, calls[0].Query)
		})
	}
}

func TestBadParametersAreRefusedBeforeTheDiceRollerIsCalled(t *testing.T) {
	const timesRange = "an integer from 1 to 20"
	tests := []struct {
		name    string
		target  string
		want    []string // in the error message
		notWant []string
	}{
		{"times missing", "/roll-async?die=fair", []string{`"times"`, timesRange}, nil},
		{"times empty", "/roll-async?die=fair&times=", []string{`"times"`, timesRange}, nil},
		{"times not a number", "/roll-async?die=fair&times=abc", []string{`"abc"`, timesRange}, nil},
		{"times zero", "/roll-async?die=fair&times=0", []string{`"0"`, timesRange}, nil},
		{"times too large", "/roll-async?die=fair&times=21", []string{`"21"`, timesRange}, nil},
		{"times negative", "/roll-async?die=fair&times=-3", []string{`"-3"`, timesRange}, nil},
		{"times fractional", "/roll-async?die=fair&times=2.5", []string{`"2.5"`, timesRange}, nil},
		{"die missing on roll", "/roll", []string{`missing query parameter "die"`, "fair, risky"}, nil},
		{"die empty on roll", "/roll?die=", []string{`missing query parameter "die"`, "fair, risky"}, nil},
		{"die checked before times", "/roll-async?times=abc", []string{`missing query parameter "die"`, "fair, risky"}, []string{"times"}},
		{"unknown die", "/roll?die=nope", []string{`unknown die "nope"`, "valid: fair, risky"}, nil},
		{"die names are case-sensitive", "/roll?die=FAIR", []string{`unknown die "FAIR"`, "valid: fair, risky"}, nil},
		{"unknown die on roll-async", "/roll-async?die=nope&times=5", []string{`unknown die "nope"`, "valid: fair, risky"}, nil},
		{"unknown die before bad times", "/roll-async?die=nope&times=abc", []string{`unknown die "nope"`}, []string{"times"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, nil)

			status, body, header := get(t, s.frontend.URL+tt.target)

			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "application/json", header.Get("Content-Type"))
			msg := errorMessage(t, body)
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			for _, nw := range tt.notWant {
				assert.NotContains(t, msg, nw, "only the first bad parameter is named")
			}
			assert.Empty(t, s.diceRoller.Calls(), "a bad request must not reach the dice-roller")

			warnings := s.frontend.rec.LogsWithMessage(t, "invalid roll request")
			require.Len(t, warnings, 1)
			assert.Equal(t, "WARNING", warnings[0]["level"])
			assert.Equal(t, msg, warnings[0]["error"])
		})
	}
}

func TestWithoutADieListTheDiceRollerDecides(t *testing.T) {
	// The die-service was down when the frontend started: it cannot tell an
	// unknown die, so it asks the dice-roller and relays its refusal.
	roller := newFakeDiceRoller(t, nil)
	fe := newTestFrontend(t, config{diceRollerURL: roller.URL, dieServiceURL: closedURL(t)})

	status, body, _ := get(t, fe.URL+"/roll?die=nope")

	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `{"error":"unknown die \"nope\"; valid: fair, risky"}`+"\n", body)
	assert.Len(t, roller.Calls(), 1)
	assert.Equal(t, []string{"unknown"}, unique(fe.rec.LabelValues(t, "frontend_requests_total", "die_type")))

	// Without a list, a missing die is still refused by the frontend itself.
	status, body, _ = get(t, fe.URL+"/roll")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, errorMessage(t, body), `missing query parameter "die"`)
	assert.Len(t, roller.Calls(), 1, "a missing die is not relayed")
}

func TestDiceRollerDownIs502(t *testing.T) {
	down := closedURL(t)
	fe := newTestFrontend(t, config{
		diceRollerURL: down,
		dieServiceURL: newFakeDieService(t, "fair", "risky").URL,
		// Far longer than the test client waits: a refused connection must be
		// reported at once, not after the backend timeout.
		backendTimeout: time.Minute,
	})
	fe.loadCatalog(t)

	status, body, header := get(t, fe.URL+"/roll?die=fair")

	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "application/json", header.Get("Content-Type"))
	msg := errorMessage(t, body)
	assert.Contains(t, msg, "dice-roller unavailable at "+down)
	assert.Contains(t, msg, "connection refused")

	span := waitSpan(t, fe.rec, "GET /roll", trace.SpanKindServer)
	assert.Equal(t, codes.Error, span.Status().Code, "a 502 marks the frontend's span as failed")
	_, hasStatus := attr(span, "backend.status_code")
	assert.False(t, hasStatus, "no backend status when the dice-roller did not answer")
}

func TestHangingDiceRollerIs502AfterTheBackendTimeout(t *testing.T) {
	release := make(chan struct{})
	roller := newFakeDiceRoller(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the frontend gave up
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before roller.Close
	const backendTimeout = 200 * time.Millisecond
	fe := newTestFrontend(t, config{
		diceRollerURL:  roller.URL,
		dieServiceURL:  newFakeDieService(t, "fair", "risky").URL,
		backendTimeout: backendTimeout,
	})
	fe.loadCatalog(t)

	start := time.Now()
	status, body, _ := get(t, fe.URL+"/roll-async?die=fair&times=3")

	assert.Equal(t, http.StatusBadGateway, status)
	msg := errorMessage(t, body)
	assert.Contains(t, msg, "dice-roller at "+roller.URL+" did not answer within")
	// net/http words it "Client.Timeout exceeded" or "context deadline
	// exceeded", depending on where the request was when time ran out.
	assert.GreaterOrEqual(t, time.Since(start), backendTimeout, "the frontend waited for the backend timeout")
	assert.Len(t, roller.Calls(), 1)
	assert.Equal(t, 1.0, fe.rec.CounterValue(t, "frontend_requests_total", map[string]string{"die_type": "fair", "status_code": "502"}))
}

func TestRoutes(t *testing.T) {
	s := newStack(t, nil)
	tests := []struct {
		method, target string
		status         int
		want           string
	}{
		{http.MethodGet, "/healthz", http.StatusOK, `"ok"`},
		{http.MethodGet, "/static/app.js", http.StatusOK, "/roll-async"},
		{http.MethodGet, "/static/style.css", http.StatusOK, "{"},
		{http.MethodGet, "/metrics", http.StatusOK, "go_goroutines"},
		{http.MethodPost, "/roll?die=fair", http.StatusMethodNotAllowed, "valid: GET"},
		{http.MethodDelete, "/roll-async?die=fair&times=2", http.StatusMethodNotAllowed, "valid: GET"},
		{http.MethodGet, "/nope", http.StatusNotFound, "valid: /, /roll, /roll-async"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, s.frontend.URL+tt.target, nil)
			require.NoError(t, err)
			resp, err := testClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, string(body), tt.want)
		})
	}
	assert.Empty(t, s.diceRoller.Calls(), "wrong methods are not relayed")
}
