package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage3/internal/telemetry/telemetrytest"
)

// The fakes answer like the real services of stage 3, so the frontend is
// tested against the same wire format, but each test chooses the answers.

// backendCall is one request that a fake received.
type backendCall struct {
	Path        string
	Query       url.Values
	Traceparent string
}

// fakeDiceRoller is an httptest dice-roller that records every call.
type fakeDiceRoller struct {
	*httptest.Server
	mu    sync.Mutex
	calls []backendCall
}

// newFakeDiceRoller serves answer (answerLikeDiceRoller when nil).
func newFakeDiceRoller(t testing.TB, answer http.HandlerFunc) *fakeDiceRoller {
	t.Helper()
	if answer == nil {
		answer = answerLikeDiceRoller
	}
	f := &fakeDiceRoller{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, backendCall{
			Path:        r.URL.Path,
			Query:       r.URL.Query(),
			Traceparent: r.Header.Get("traceparent"),
		})
		f.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// Calls returns the requests received so far.
func (f *fakeDiceRoller) Calls() []backendCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// answerLikeDiceRoller answers as the real dice-roller does when every roll
// succeeds: /roll → {"roll": 4}; a bad die → 400 naming the valid values.
func answerLikeDiceRoller(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	die := q.Get("die")
	if die != "fair" && die != "risky" {
		service.WriteError(w, http.StatusBadRequest, fmt.Sprintf("unknown die %q; valid: fair, risky", die))
		return
	}
	switch r.URL.Path {
	case "/roll":
		service.WriteJSON(w, http.StatusOK, map[string]int{"roll": 4})
	default:
		service.WriteError(w, http.StatusNotFound, "no route "+r.URL.Path)
	}
}

// answerWith answers every request with status and body, verbatim.
func answerWith(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// newFakeDieService serves GET /dice → {"identifiers": ids} like the real
// die-service.
func newFakeDieService(t testing.TB, ids ...string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dice" || r.URL.Query().Has("identifier") {
			service.WriteError(w, http.StatusNotFound, "this fake only lists the dice")
			return
		}
		service.WriteJSON(w, http.StatusOK, map[string][]string{"identifiers": ids})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// closedURL is the URL of a port where nothing listens: connecting to it is
// refused at once.
func closedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// testFrontend is the real frontend (its routes, metrics, spans and logs)
// served by an httptest server.
type testFrontend struct {
	*httptest.Server
	srv *server
	rec *telemetrytest.Recorder
}

// newTestFrontend builds the frontend from cfg with a recording telemetry
// pipeline. A zero backendTimeout is 5 s, as in main.
func newTestFrontend(t testing.TB, cfg config) *testFrontend {
	t.Helper()
	if cfg.backendTimeout == 0 {
		cfg.backendTimeout = 5 * time.Second
	}
	rec := telemetrytest.New(t, serviceName)
	srv := newServer(cfg, rec.Telemetry)
	ts := httptest.NewServer(srv.routes())
	t.Cleanup(ts.Close)
	return &testFrontend{Server: ts, srv: srv, rec: rec}
}

// loadCatalog fetches the list of dice, as main does at startup.
func (f *testFrontend) loadCatalog(t testing.TB) {
	t.Helper()
	_, err := f.srv.catalog.List(t.Context())
	require.NoError(t, err)
}

// stack is a frontend wired to a fake die-service that lists fair and risky,
// with the list already loaded, and to a fake dice-roller.
type stack struct {
	frontend   *testFrontend
	diceRoller *fakeDiceRoller
}

// newStack starts the stack; answer is the dice-roller's (nil: like the real one).
func newStack(t testing.TB, answer http.HandlerFunc) *stack {
	t.Helper()
	roller := newFakeDiceRoller(t, answer)
	fe := newTestFrontend(t, config{
		diceRollerURL: roller.URL,
		dieServiceURL: newFakeDieService(t, "fair", "risky").URL,
	})
	fe.loadCatalog(t)
	return &stack{frontend: fe, diceRoller: roller}
}

// testClient bounds every request of a test: a frontend that hangs fails the
// test instead of blocking it.
var testClient = &http.Client{Timeout: 10 * time.Second}

// get asks the URL and returns the status, the body and the headers.
func get(t testing.TB, target string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

// countedValues lists the values a label takes in the series of a counter
// that have counted something: the series born at 0 are left out.
func countedValues(t testing.TB, rec *telemetrytest.Recorder, family, label string) []string {
	t.Helper()
	var out []string
	for _, m := range rec.Family(t, family).GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && m.GetCounter().GetValue() > 0 {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}
