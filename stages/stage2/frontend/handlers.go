package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/stages/stage2/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage2/internal/telemetry"
)

//go:embed web
var webFS embed.FS

var page = template.Must(template.ParseFS(webFS, "web/index.html"))

type server struct {
	tel           *telemetry.Telemetry
	log           *slog.Logger
	metrics       *metrics
	client        *http.Client // instrumented: the trace continues in the dice-roller
	diceRollerURL string
	dice          []string // the dropdown's dice, and the die_type label's closed set
}

func newServer(cfg config, tel *telemetry.Telemetry) *server {
	return &server{
		tel:           tel,
		log:           tel.Logger,
		metrics:       newMetrics(tel.Registry, knownDice),
		client:        tel.NewHTTPClient(cfg.backendTimeout),
		diceRollerURL: cfg.diceRollerURL,
		dice:          knownDice,
	}
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.TraceRequests(s.tel, serviceName), s.tel.HTTP.Middleware)
	r.NotFound(service.NotFound("/", "/roll", "/static/", "/healthz", "/metrics"))
	r.MethodNotAllowed(service.MethodNotAllowed)

	r.Get("/", s.handlePage)
	r.Get("/healthz", service.Healthz)
	r.Method(http.MethodGet, "/metrics", s.tel.MetricsHandler())
	r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static/", http.FileServerFS(mustSub(webFS, "web"))))
	r.Get("/roll", s.handleRoll)
	// Every route's request counters exist from the start, at 0.
	s.tel.HTTP.InitRoutes(r)
	return r
}

// handlePage renders the page with the dice in its dropdown.
func (s *server) handlePage(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Dice []string
	}{Dice: s.dice}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, data); err != nil {
		s.log.ErrorContext(r.Context(), "page rendering failed", "error", err.Error())
	}
}

// handleRoll relays GET /roll?die= to the dice-roller.
func (s *server) handleRoll(w http.ResponseWriter, r *http.Request) {
	die := service.Param(r, "die")
	s.relay(w, r, die, "/roll", url.Values{"die": {die}})
}

// relay counts the click, checks the die, asks the dice-roller and answers
// with its status and body, recording the answer and the time it took.
func (s *server) relay(w http.ResponseWriter, r *http.Request, die, path string, query url.Values) {
	ctx := r.Context()
	// exercise 2.4: begin
	start := time.Now()
	// exercise 2.4: end
	// exercise 2.2: begin
	// Whatever the user sent: a span attribute costs nothing per value.
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("die.type", die))
	// exercise 2.2: end
	s.log.InfoContext(ctx, "roll requested", "die_type", die, "path", path)

	known := slices.Contains(s.dice, die)
	// exercise 2.4: begin
	// A label is a known die or "unknown", never what the user typed.
	label := unknownDie
	if known {
		label = die
	}
	s.metrics.clicks.WithLabelValues(label).Inc()
	// exercise 2.4: end

	var status int
	var body []byte
	switch {
	case die == "":
		status, body = s.invalid(ctx, die, fmt.Sprintf(`missing query parameter "die"; valid: %s`, strings.Join(s.dice, ", ")))
	case !known:
		status, body = s.invalid(ctx, die, fmt.Sprintf("unknown die %q; valid: %s", die, strings.Join(s.dice, ", ")))
	default:
		status, body = s.callDiceRoller(ctx, die, path, query)
	}

	// exercise 2.4: begin
	s.metrics.requests.WithLabelValues(label, strconv.Itoa(status)).Inc()
	telemetry.Observe(ctx, s.metrics.duration.WithLabelValues(label), time.Since(start).Seconds())
	// exercise 2.4: end
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// callDiceRoller sends the request with ctx, so the dice-roller's server span
// becomes a child of this client span, and relays its status and body. A
// dice-roller that cannot be reached is a 502.
func (s *server) callDiceRoller(ctx context.Context, die, path string, query url.Values) (int, []byte) {
	// exercise 2.2: begin
	span := trace.SpanFromContext(ctx) // the frontend's server span
	// exercise 2.2: end
	target := s.diceRollerURL + path + "?" + query.Encode()
	// exercise 2.2: begin
	span.SetAttributes(attribute.String("backend.url", target))
	// exercise 2.2: end

	status, body, err := s.get(ctx, target)
	switch {
	case err != nil && ctx.Err() == context.Canceled:
		// The user went away: the dice-roller is not to blame.
		s.log.InfoContext(ctx, "roll abandoned by the client", "die_type", die)
		return service.StatusClientClosedRequest, errorJSON("client closed the request")
	case err != nil:
		// exercise 2.2: begin
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		// exercise 2.2: end
		s.log.ErrorContext(ctx, "backend failed", "die_type", die, "backend_url", s.diceRollerURL, "error", err.Error())
		msg := fmt.Sprintf("dice-roller unavailable at %s: %v", s.diceRollerURL, err)
		if isTimeout(err) {
			msg = fmt.Sprintf("dice-roller at %s did not answer within %s", s.diceRollerURL, s.client.Timeout)
		}
		return http.StatusBadGateway, errorJSON(msg)
	}
	// exercise 2.2: begin
	span.SetAttributes(attribute.Int("backend.status_code", status))
	// exercise 2.2: end
	s.log.InfoContext(ctx, "backend answered", "die_type", die, "backend_status", status)
	return status, body
}

func (s *server) get(ctx context.Context, target string) (int, []byte, error) {
	// exercise 2.2: begin
	// exercise 2.2: stub: req, err := http.NewRequest(http.MethodGet, target, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	// exercise 2.2: end
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// invalid refuses a bad parameter before the dice-roller is called.
func (s *server) invalid(ctx context.Context, die, msg string) (int, []byte) {
	s.log.WarnContext(ctx, "invalid roll request", "die_type", die, "error", msg)
	return http.StatusBadRequest, errorJSON(msg)
}

// isTimeout tells a dice-roller that is too slow from one that is not there.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

func errorJSON(msg string) []byte {
	b, _ := json.Marshal(service.ErrorBody{Error: msg})
	return append(b, '\n')
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
