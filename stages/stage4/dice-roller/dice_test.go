package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClassify sorts real errors of client.Do into the lookup's statuses.
func TestClassify(t *testing.T) {
	get := func(client *http.Client, ctx context.Context, u string) error {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "the request to %s was expected to fail", u)
		return err
	}
	// hangsUp accepts connections and closes them without a word.
	hangsUp := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return "http://" + ln.Addr().String()
	}
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want string
	}{
		{"the context's deadline passed", func(t *testing.T) error {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			return get(http.DefaultClient, ctx, silentURL(t))
		}, lookupTimeout},
		{"the client's own timeout", func(t *testing.T) error {
			return get(&http.Client{Timeout: 100 * time.Millisecond}, t.Context(), silentURL(t))
		}, lookupTimeout},
		{"connection refused", func(t *testing.T) error {
			return get(http.DefaultClient, t.Context(), closedURL(t))
		}, lookupUnavailable},
		{"the host name does not resolve", func(*testing.T) error {
			return &url.Error{Op: "Get", URL: "http://die-service.invalid/dice", Err: &net.OpError{
				Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "die-service.invalid", IsNotFound: true},
			}}
		}, lookupUnavailable},
		{"the connection closed without an answer", func(t *testing.T) error {
			return get(http.DefaultClient, t.Context(), hangsUp(t))
		}, lookupError},
		{"anything else", func(*testing.T) error {
			return &url.Error{Op: "Get", URL: "http://die-service/dice", Err: io.ErrUnexpectedEOF}
		}, lookupError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			assert.Equal(t, tt.want, classify(err), "classify(%q)", err)
		})
	}
}

// TestLookupCountsEachOutcome: each lookup in the die-service is counted
// once, under the die only when the die-service vouched for it, with the
// status of its outcome, and timed.
func TestLookupCountsEachOutcome(t *testing.T) {
	broken := func(status int, body string) func(t *testing.T) string {
		return func(t *testing.T) string {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(ts.Close)
			return ts.URL
		}
	}
	fake := func(t *testing.T) string { return newFakeDieService(t).URL }
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name       string
		dieService func(t *testing.T) string
		die        string
		wantLabel  string // the identifier label
		wantStatus string
	}{
		{"the die exists", fake, "fair", "fair", lookupSuccess},
		{"no such die", fake, "loaded", unknownLabel, lookupNotFound},
		{"die-service down", closedURL, "fair", unknownLabel, lookupUnavailable},
		{"die-service never answers", silentURL, "fair", unknownLabel, lookupTimeout},
		{"die-service answers 500", broken(500, `{"error":"disk on fire"}`), "fair", unknownLabel, lookupError},
		{"die-service answers garbage", broken(200, `<html>`), "fair", unknownLabel, lookupError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.dieService(t))
			cfg.lookupTimeout = timeout
			env := newRollerEnv(t, cfg, nil)
			// The caller's own bound is far longer than the lookup's: the
			// lookup must give up by itself, after its timeout.
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()

			start := time.Now()
			spec, err := env.srv.dice.lookup(ctx, tt.die)
			took := time.Since(start)

			var unknown *unknownDieError
			var down *dieServiceDownError
			switch tt.wantStatus {
			case lookupSuccess:
				require.NoError(t, err)
				assert.Equal(t, testDice[tt.die], spec)
			case lookupNotFound:
				assert.ErrorAs(t, err, &unknown, "a 404 of the die-service is an *unknownDieError")
			default:
				if assert.ErrorAs(t, err, &down, "a die-service that cannot answer is a *dieServiceDownError, "+
					"not the caller's context error (keep the caller's ctx, bound only the lookup's own context)") {
					assert.Equal(t, tt.wantStatus, down.status)
				}
			}
			if tt.wantStatus == lookupTimeout {
				assert.GreaterOrEqual(t, took, timeout, "gave up before the lookup's timeout")
				assert.Less(t, took, 2*time.Second, "the lookup did not stop at its timeout (%v): is the call made with a context bounded by d.timeout?", timeout)
			}

			counted := env.rec.Metric(t, "die_service_requests_total", map[string]string{"identifier": tt.wantLabel, "status": tt.wantStatus})
			require.NotNil(t, counted, "no series die_service_requests_total{identifier=%q,status=%q}; series: %v",
				tt.wantLabel, tt.wantStatus, env.rec.LabelValues(t, "die_service_requests_total", "status"))
			assert.Equal(t, 1.0, counted.GetCounter().GetValue(),
				"die_service_requests_total{identifier=%q,status=%q}", tt.wantLabel, tt.wantStatus)
			assert.Equal(t, 1.0, counterSum(t, env, "die_service_requests_total"), "one lookup is counted once")
			assert.Equal(t, uint64(1), histogram(t, env.rec, "die_service_request_duration_seconds", nil).GetSampleCount(),
				"one lookup is timed once, in die_service_request_duration_seconds")
		})
	}
}

// TestLookupCountersAreBornAtZero: a counter's series is created by
// WithLabelValues, at its first Inc unless the code creates it earlier. The
// series known before any request start at 0, so that rate() sees their
// first increase; a die's own series are born once the die-service has
// vouched for it; an unknown die never becomes a label value.
func TestLookupCountersAreBornAtZero(t *testing.T) {
	dieService := newFakeDieService(t)
	env := newRollerEnv(t, testConfig(dieService.URL), nil)

	// At startup: every outcome a lookup can be counted under as unknown.
	for _, status := range []string{lookupNotFound, lookupError, lookupTimeout, lookupUnavailable} {
		m := env.rec.Metric(t, "die_service_requests_total", map[string]string{"identifier": unknownLabel, "status": status})
		if assert.NotNil(t, m, "die_service_requests_total{identifier=\"unknown\",status=%q} exists at startup, at 0", status) {
			assert.Zero(t, m.GetCounter().GetValue())
		}
	}
	assert.Len(t, env.rec.Family(t, "die_service_requests_total").GetMetric(), 4,
		"before any lookup only the unknown series exist: no die is known yet")
	assert.Nil(t, env.rec.Family(t, "dice_rolls_total"), "no die is known before the die-service vouched for one")

	// A die the die-service does not know creates no series of its own.
	env.get(t, "/roll?die=loaded")
	assert.Nil(t, env.rec.Family(t, "dice_rolls_total"), "an unknown die never becomes a label value")

	// The first lookup of a die that exists creates both of its roll series:
	// the failed roll counts 1, the successful side is there at 0.
	require.Equal(t, http.StatusInternalServerError, env.get(t, "/roll?die=doomed").status)
	for result, want := range map[string]float64{resultError: 1, resultSuccess: 0} {
		m := env.rec.Metric(t, "dice_rolls_total", map[string]string{"die_type": "doomed", "result": result})
		if assert.NotNil(t, m, "dice_rolls_total{die_type=\"doomed\",result=%q} exists once doomed was looked up", result) {
			assert.Equal(t, want, m.GetCounter().GetValue(), "dice_rolls_total{die_type=\"doomed\",result=%q}", result)
		}
	}
	assert.Equal(t, []string{"doomed"}, uniqueValues(env.rec.LabelValues(t, "dice_rolls_total", "die_type")))
}
