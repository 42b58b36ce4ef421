package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/telemetry"
)

type server struct {
	tel     *telemetry.Telemetry
	log     *slog.Logger
	metrics *metrics
	dice    diceTable
	roller  roller
}

func newServer(cfg config, tel *telemetry.Telemetry) *server {
	return &server{
		tel:     tel,
		log:     tel.Logger,
		metrics: newMetrics(tel.Registry, knownDice.names()),
		dice:    knownDice,
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
		"endpoints": []string{
			"GET /roll?die={id}", "GET /healthz", "GET /metrics",
		},
	})
}

// handleRoll rolls one die: GET /roll?die=fair → {"roll": 4}.
func (s *server) handleRoll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	die := service.Param(r, "die")
	s.log.InfoContext(ctx, "roll request received", "die_type", die)
	span.SetAttributes(attribute.String("die.type", die))

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
		s.metrics.rolls.WithLabelValues(die, resultError).Inc()
		span.SetAttributes(attribute.Bool("die.error", true))
		// otelhttp sets the status again (without a message) for a 5xx: the
		// recorded error event is what keeps the reason on the span.
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		s.log.ErrorContext(ctx, "roll failed", "die_type", die, "error", err.Error())
		service.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("rolling %s failed: %v", die, err))
	case err != nil:
		// The client went away during the delay; nobody reads an answer.
		s.log.InfoContext(ctx, "roll cancelled", "die_type", die, "error", err.Error())
		service.WriteError(w, service.StatusClientClosedRequest, "client closed the request")
	default:
		s.metrics.rolls.WithLabelValues(die, resultSuccess).Inc()
		telemetry.Observe(ctx, s.metrics.rollValue.WithLabelValues(die), float64(value))
		span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
		s.log.InfoContext(ctx, "roll result", "die_type", die, "roll_value", value)
		service.WriteJSON(w, http.StatusOK, map[string]int{"roll": value})
	}
}

var errMissingDie = fmt.Errorf(`missing query parameter "die"; valid: %s`, strings.Join(knownDice.names(), ", "))

// lookup finds the die in the table, or answers the request itself: 400 when
// the die does not exist.
func (s *server) lookup(ctx context.Context, w http.ResponseWriter, die string) (Die, bool) {
	spec, err := s.dice.lookup(die)
	var unknown *unknownDieError
	switch {
	case err == nil:
		return spec, true
	case errors.As(err, &unknown):
		s.invalid(ctx, w, "die", unknown.Error())
	default:
		s.log.ErrorContext(ctx, "die lookup failed", "die_type", die, "error", err.Error())
		service.WriteError(w, http.StatusInternalServerError, err.Error())
	}
	return Die{}, false
}

// invalid answers a bad parameter with 400 and logs it at WARNING.
func (s *server) invalid(ctx context.Context, w http.ResponseWriter, param, msg string) {
	s.log.WarnContext(ctx, "invalid "+param, "error", msg)
	service.WriteError(w, http.StatusBadRequest, msg)
}
