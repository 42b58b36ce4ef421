package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/stages/stage1/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage1/internal/telemetry"
)

type server struct {
	tel     *telemetry.Telemetry
	log     *slog.Logger
	metrics *metrics
	dice    dice
	roller  roller
}

func newServer(cfg config, tel *telemetry.Telemetry) *server {
	dice := knownDice()
	return &server{
		tel:     tel,
		log:     tel.Logger,
		metrics: newMetrics(tel.Registry, dice.identifiers()),
		dice:    dice,
		roller:  newRoller(cfg.maxDelay),
	}
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.TraceRequests(s.tel, serviceName), s.tel.HTTP.Middleware)
	r.NotFound(service.NotFound("/", "/roll", "/healthz", "/metrics"))
	r.MethodNotAllowed(service.MethodNotAllowed)

	r.Get("/", s.handleIndex)
	r.Get("/healthz", service.Healthz)
	r.Method(http.MethodGet, "/metrics", s.tel.MetricsHandler())
	r.Get("/roll", s.handleRoll)
	// Every route's request counters exist from the start, at 0.
	s.tel.HTTP.InitRoutes(r)
	return r
}

func (s *server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	service.WriteJSON(w, http.StatusOK, map[string]any{
		"service": serviceName,
		"stage":   telemetry.Stage,
		"dice":    s.dice.identifiers(),
		"endpoints": []string{
			"GET /roll?die={id}", "GET /healthz", "GET /metrics",
		},
	})
}

// handleRoll rolls one die: GET /roll?die=fair → {"roll": 4}.
func (s *server) handleRoll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// exercise 1.3: begin
	span := trace.SpanFromContext(ctx)
	// exercise 1.3: end
	die := service.Param(r, "die")
	s.log.InfoContext(ctx, "roll request received", "die_type", die)
	// exercise 1.3: begin
	span.SetAttributes(attribute.String("die.type", die))
	// exercise 1.3: end

	if die == "" {
		s.invalid(ctx, w, "die", errMissingDie.Error())
		return
	}
	spec, ok := s.lookup(ctx, w, die)
	if !ok {
		return
	}

	value, err := s.roller.roll(ctx, spec)
	switch {
	case errors.Is(err, errRollFailed):
		// exercise 1.5: begin
		s.metrics.rolls.WithLabelValues(die, resultError).Inc()
		// exercise 1.5: end
		// exercise 1.3: begin
		span.SetAttributes(attribute.Bool("die.error", true))
		// otelhttp sets the status again (without a message) for a 5xx: the
		// recorded error event is what keeps the reason on the span.
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		// exercise 1.3: end
		s.log.ErrorContext(ctx, "roll failed", "die_type", die, "error", err.Error())
		service.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("rolling %s failed: %v", die, err))
	case err != nil:
		// The client went away during the delay; nobody reads an answer.
		s.log.InfoContext(ctx, "roll cancelled", "die_type", die, "error", err.Error())
		service.WriteError(w, service.StatusClientClosedRequest, "client closed the request")
	default:
		// exercise 1.5: begin
		s.metrics.rolls.WithLabelValues(die, resultSuccess).Inc()
		telemetry.Observe(ctx, s.metrics.rollValue.WithLabelValues(die), float64(value))
		// exercise 1.5: end
		// exercise 1.3: begin
		span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
		// exercise 1.3: end
		s.log.InfoContext(ctx, "roll result", "die_type", die, "roll_value", value)
		service.WriteJSON(w, http.StatusOK, map[string]int{"roll": value})
	}
}

var errMissingDie = errors.New(`missing query parameter "die"; valid: fair, risky`)

// lookup finds the die, or answers the request itself with 400 when there is
// no such die.
func (s *server) lookup(ctx context.Context, w http.ResponseWriter, die string) (Die, bool) {
	spec, err := s.dice.lookup(die)
	if err != nil {
		s.invalid(ctx, w, "die", err.Error())
		return Die{}, false
	}
	return spec, true
}

// invalid answers a bad parameter with 400 and logs it at WARNING.
func (s *server) invalid(ctx context.Context, w http.ResponseWriter, param, msg string) {
	s.log.WarnContext(ctx, "invalid "+param, "error", msg)
	service.WriteError(w, http.StatusBadRequest, msg)
}
