// Package service holds what the stage's three services do alike and what is
// not telemetry: reading configuration from the environment, answering JSON,
// and serving HTTP with a graceful shutdown.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TelemetryFlushTimeout bounds the final flush of spans, so a dead collector
// never holds the exit.
const TelemetryFlushTimeout = 3 * time.Second

// Port reads PORT, or returns def when it is unset.
func Port(def int) (int, error) {
	raw := os.Getenv("PORT")
	if raw == "" {
		return def, nil
	}
	p, err := strconv.Atoi(raw)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("invalid PORT %q: want a number from 1 to 65535", raw)
	}
	return p, nil
}

// ListenAddr is where a service listens: port on LISTEN_HOST, which is
// loopback by default so that nobody else on the wifi can reach a service
// on your laptop. The container images set LISTEN_HOST=0.0.0.0: inside its
// own network namespace a container must answer on every interface.
func ListenAddr(port int) string {
	host := os.Getenv("LISTEN_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Duration reads a Go duration ("500ms", "2s", "0") from the variable name,
// or returns def when it is unset. Negative durations are refused.
func Duration(name string, def time.Duration) (time.Duration, error) {
	raw := os.Getenv(name)
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a Go duration such as 500ms or 1s", name, raw)
	}
	return d, nil
}

// URL reads a peer's base URL from the variable name, or returns def.
func URL(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// MaxParamBytes bounds a query parameter as the handlers see it. They
// repeat what the client sent, in their error answers, their log lines and
// their spans: a 100 KB value must come back neither whole nor into the
// logs. No valid value is anywhere near this long.
const MaxParamBytes = 64

// Param reads the query parameter name, cut to MaxParamBytes.
func Param(r *http.Request, name string) string { return Cut(r.URL.Query().Get(name)) }

// Cut shortens a client's input before it is repeated: at most
// MaxParamBytes and a character boundary, "…" marking the cut.
func Cut(s string) string {
	if len(s) <= MaxParamBytes {
		return s
	}
	end := MaxParamBytes
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…"
}

// ExitOnConfigError stops the service at startup with one clear line and
// exit status 2: a misconfigured service should not half-start.
func ExitOnConfigError(service string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
	os.Exit(2)
}

// Run serves handler on addr until ctx is cancelled (SIGTERM/SIGINT), then
// stops accepting, lets in-flight requests finish for up to drain, and
// finally flushes telemetry with a fresh context: ctx is already cancelled
// by then, and a flush with it would drop every queued span.
func Run(ctx context.Context, addr string, handler http.Handler, logger *slog.Logger,
	drain time.Duration, flushTelemetry func(context.Context) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (is another process using the port? set PORT to change it): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}

	logger.Info("shutting down", "drain_timeout", drain.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	shutdownErr := srv.Shutdown(drainCtx)

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), TelemetryFlushTimeout)
	defer cancelFlush()
	if err := flushTelemetry(flushCtx); err != nil {
		logger.Warn("telemetry flush incomplete", "error", err.Error())
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return shutdownErr
}

// The batch sizes /roll-async accepts, on the frontend and the dice-roller alike.
const (
	MinTimes = 1
	MaxTimes = 20
)

// ParseTimes reads the times parameter of /roll-async; the error names the
// valid range.
func ParseTimes(raw string) (int, error) {
	n, err := strconv.Atoi(raw)
	if err != nil || n < MinTimes || n > MaxTimes {
		if raw == "" {
			return 0, fmt.Errorf(`missing query parameter "times"; valid: an integer from %d to %d`, MinTimes, MaxTimes)
		}
		return 0, fmt.Errorf(`invalid times %q; valid: an integer from %d to %d`, raw, MinTimes, MaxTimes)
	}
	return n, nil
}

// StatusClientClosedRequest answers a request whose client went away before
// the answer was ready (nginx's 499). Nobody reads it: it is there so the
// request is counted as a 4xx, not as a success.
const StatusClientClosedRequest = 499

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError answers {"error": msg} with the given status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}

// Healthz answers liveness probes.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// NotFound answers an unknown path, naming the paths that exist.
func NotFound(paths ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no route %s; valid: %s", Cut(r.URL.Path), strings.Join(paths, ", ")))
	}
}

// MethodNotAllowed answers a known path asked with the wrong method.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodGet)
	WriteError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; valid: GET", r.Method))
}
