package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
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
			name: "risky roll failed", target: "/roll?die=risky",
			status: http.StatusInternalServerError, body: `{"error": "rolling risky failed: the die rolled off the table"}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"risky"}},
		},
		{
			// The dice-roller can know less than the frontend's list.
			name: "dice-roller refuses the die", target: "/roll?die=risky",
			status: http.StatusBadRequest, body: `{"error": "unknown die \"risky\"; valid: fair"}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"risky"}},
		},
		{
			name: "extra parameters are not relayed", target: "/roll?die=fair&times=3&debug=1",
			status: http.StatusOK, body: `{"roll": 6}`,
			wantPath: "/roll", wantQuery: url.Values{"die": {"fair"}},
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
	tests := []struct {
		name   string
		target string
		want   string // the error message
	}{
		{"die missing", "/roll", `missing query parameter "die"; valid: fair, risky`},
		{"die empty", "/roll?die=", `missing query parameter "die"; valid: fair, risky`},
		{"unknown die", "/roll?die=nope", `unknown die "nope"; valid: fair, risky`},
		{"die names are case-sensitive", "/roll?die=FAIR", `unknown die "FAIR"; valid: fair, risky`},
		{"trailing space", "/roll?die=fair%20", `unknown die "fair "; valid: fair, risky`},
		{"markup", "/roll?die=%3Cscript%3E", `unknown die "<script>"; valid: fair, risky`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, nil)

			status, body, header := get(t, s.frontend.URL+tt.target)

			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "application/json", header.Get("Content-Type"))
			assert.Equal(t, tt.want, errorMessage(t, body))
			assert.Empty(t, s.diceRoller.Calls(), "a bad request must not reach the dice-roller")
			assert.Empty(t, spansOfKind(s.frontend.rec, "GET /roll", trace.SpanKindClient), "no outgoing call")

			warnings := s.frontend.rec.LogsWithMessage(t, "invalid roll request")
			require.Len(t, warnings, 1)
			assert.Equal(t, "WARNING", warnings[0]["level"])
			assert.Equal(t, tt.want, warnings[0]["error"])
		})
	}
}

func TestDiceRollerDownIs502(t *testing.T) {
	down := closedURL(t)
	fe := newTestFrontend(t, config{
		diceRollerURL: down,
		// Far longer than the test client waits: a refused connection must be
		// reported at once, not after the backend timeout.
		backendTimeout: time.Minute,
	})

	status, body, header := get(t, fe.URL+"/roll?die=fair")

	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "application/json", header.Get("Content-Type"))
	msg := errorMessage(t, body)
	assert.Contains(t, msg, "dice-roller unavailable at "+down)
	assert.Contains(t, msg, "connection refused")

	span := waitSpan(t, fe.rec, "GET /roll", trace.SpanKindServer)
	assert.Equal(t, codes.Error, span.Status().Code, "a 502 marks the frontend's span as failed")
	// otelhttp marks a 5xx server span as an error, without a reason: the
	// exception event of span.RecordError keeps it.
	require.NotEmpty(t, span.Events(), "the failed call is recorded on the frontend's server span (span.RecordError)")
	assert.Equal(t, "exception", span.Events()[0].Name)
	assert.Contains(t, fmt.Sprint(span.Events()[0].Attributes), "connection refused")
	_, hasStatus := attr(span, "backend.status_code")
	assert.False(t, hasStatus, "no backend status when the dice-roller did not answer")
	client := waitSpan(t, fe.rec, "GET /roll", trace.SpanKindClient)
	assert.Equal(t, codes.Error, client.Status().Code, "the client span records the failed call")
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
		backendTimeout: backendTimeout,
	})

	start := time.Now()
	status, body, _ := get(t, fe.URL+"/roll?die=fair")

	assert.Equal(t, http.StatusBadGateway, status)
	msg := errorMessage(t, body)
	assert.Contains(t, msg, "dice-roller at "+roller.URL+" did not answer within")
	// net/http says "Client.Timeout exceeded" or, when the transport gives up
	// first, only "context deadline exceeded".
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, backendTimeout, "the frontend waited for the backend timeout")
	assert.Less(t, took, 5*time.Second, "and not much longer")
	assert.Len(t, roller.Calls(), 1)
}

// TestClientThatLeavesCancelsTheBackendCall: the request's context goes with
// the call, so a user who closes the tab stops the dice-roller's work too,
// and nothing is left running.
func TestClientThatLeavesCancelsTheBackendCall(t *testing.T) {
	before := goleak.IgnoreCurrent()
	backendCancelled := make(chan struct{})
	roller := newFakeDiceRoller(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers on its own
		close(backendCancelled)
	})
	// A backend timeout far longer than the test waits: only the request's
	// context can stop the call in time.
	fe := newTestFrontend(t, config{diceRollerURL: roller.URL, backendTimeout: time.Minute})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fe.URL+"/roll?die=fair", nil)
		resp, err := testClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return len(roller.Calls()) == 1 }, 5*time.Second, 5*time.Millisecond,
		"the call never reached the dice-roller")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	select {
	case <-backendCancelled:
	case <-time.After(5 * time.Second):
		roller.CloseClientConnections() // ends the call, so that the cleanup does not wait a minute
		t.Fatal("the dice-roller's request was not cancelled when the user left: is it sent with the handler's ctx?")
	}
	abandoned := waitLogs(t, fe.rec, "roll abandoned by the client")
	assert.Equal(t, "INFO", abandoned[0]["level"], "a user leaving is not the dice-roller failing")
	assert.Empty(t, fe.rec.LogsWithMessage(t, "backend failed"))

	fe.Close()
	roller.Close()
	testClient.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

func TestRoutes(t *testing.T) {
	s := newStack(t, nil)
	tests := []struct {
		method, target string
		status         int
		want           string
	}{
		{http.MethodGet, "/healthz", http.StatusOK, `"ok"`},
		{http.MethodGet, "/static/app.js", http.StatusOK, "/roll"},
		{http.MethodGet, "/static/style.css", http.StatusOK, "{"},
		{http.MethodGet, "/metrics", http.StatusOK, "go_goroutines"},
		{http.MethodPost, "/roll?die=fair", http.StatusMethodNotAllowed, "valid: GET"},
		{http.MethodGet, "/nope", http.StatusNotFound, "no route /nope; valid: /, /roll, /static/, /healthz, /metrics"},
		{http.MethodGet, "/roll-async?die=fair&times=2", http.StatusNotFound, "no route /roll-async; valid: /, /roll, /static/"},
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
	assert.Empty(t, s.diceRoller.Calls(), "wrong methods and paths are not relayed")
}
